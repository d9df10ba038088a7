// A run's artifact browser: folders open in place (artifacts/list), a file
// previews as text or image and downloads through /get-artifact.
import { useState } from 'preact/hooks';
import { artifactUrl, listArtifacts, request, type FileInfo } from '../api';
import { formatBytes } from '../format';
import { Empty, ErrorBox, Loading, useAsync } from './async';

const TEXT = /\.(txt|log|json|ya?ml|csv|tsv|md|py|cfg|ini|toml|xml|html?|js|ts|sh|sql|r|properties)$|(^|\/)(MLmodel|MLproject|requirements[^/]*|conda\.yaml|Dockerfile)$/i;
const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp)$/i;
const MAX_TEXT = 1 << 20;

function basename(p: string) {
  return p.slice(p.lastIndexOf('/') + 1);
}

function Folder({ runId, path, selected, onSelect, depth }: { runId: string; path: string; selected?: string; onSelect: (f: FileInfo) => void; depth: number }) {
  const state = useAsync((signal) => listArtifacts(runId, path, signal), [runId, path]);
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
  if (!state.data) return <Loading what="artifacts" />;
  const files = [...(state.data.files ?? [])].sort((a, b) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path));
  if (files.length === 0) return depth === 0 ? <Empty>This run has no artifacts.</Empty> : <p class="hint">(empty folder)</p>;
  return (
    // A disclosure list (buttons with aria-expanded), not an ARIA tree: Tab
    // and Enter are all it needs.
    <ul class="tree" aria-label={depth === 0 ? 'Artifacts' : undefined}>
      {files.map((f) => (f.is_dir ? <DirItem key={f.path} runId={runId} file={f} selected={selected} onSelect={onSelect} depth={depth} /> : (
        <li key={f.path}>
          <button type="button" class={`file ${selected === f.path ? 'active' : ''}`} aria-current={selected === f.path ? 'true' : undefined} onClick={() => onSelect(f)}>
            {basename(f.path)} <span class="hint">{formatBytes(f.file_size)}</span>
          </button>
        </li>
      )))}
    </ul>
  );
}

function DirItem({ runId, file, selected, onSelect, depth }: { runId: string; file: FileInfo; selected?: string; onSelect: (f: FileInfo) => void; depth: number }) {
  const [open, setOpen] = useState(selected?.startsWith(file.path + '/') ?? false);
  return (
    <li>
      <button type="button" class="dir" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span aria-hidden="true">{open ? '▾' : '▸'}</span> {basename(file.path)}/
      </button>
      {open && <Folder runId={runId} path={file.path} selected={selected} onSelect={onSelect} depth={depth + 1} />}
    </li>
  );
}

function Preview({ runId, path, size }: { runId: string; path: string; size?: number }) {
  const url = artifactUrl(runId, path);
  const isText = TEXT.test(path);
  const text = useAsync(
    async (signal) => {
      if (!isText || (size ?? 0) > MAX_TEXT) return '';
      const r = await fetch(url, { signal });
      if (!r.ok) {
        // The API's JSON error, through the shared decoder.
        await request(url, { signal });
      }
      return r.text();
    },
    [url],
  );
  return (
    <div class="preview" aria-label={`Preview of ${path}`}>
      <div class="preview-head">
        <strong class="mono">{path}</strong> <span class="hint">{formatBytes(size)}</span>
        <a class="button secondary" href={url} download={basename(path)}>
          Download
        </a>
      </div>
      {IMAGE.test(path) ? (
        <img src={url} alt={path} class="artifact-image" />
      ) : isText && (size ?? 0) <= MAX_TEXT ? (
        text.error ? <ErrorBox error={text.error} /> : text.data === undefined ? <Loading what="file" /> : <pre class="artifact-text">{text.data}</pre>
      ) : (
        <p class="hint">No preview for this file type{(size ?? 0) > MAX_TEXT ? ' or size' : ''}; download it instead.</p>
      )}
    </div>
  );
}

export function ArtifactBrowser({ runId, selected, onSelect }: { runId: string; selected?: { path: string; size?: number }; onSelect: (f: FileInfo) => void }) {
  return (
    <div class="artifacts">
      <div class="artifact-tree">
        <Folder runId={runId} path="" selected={selected?.path} onSelect={onSelect} depth={0} />
      </div>
      {selected ? <Preview runId={runId} path={selected.path} size={selected.size} /> : <p class="hint preview">Choose a file to preview it.</p>}
    </div>
  );
}
