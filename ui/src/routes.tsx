// The route table and the main navigation: the one place a page is added.
// Datasets, deployments and monitoring pages slot in here (a route entry,
// and a nav entry when they have a top-level list).
import type { ComponentChildren } from 'preact';
import { ComparePage } from './pages/compare';
import { ExperimentsPage } from './pages/experiments';
import { ModelPage, ModelsPage, ModelVersionPage } from './pages/models';
import { RunPage } from './pages/run';
import { ExperimentPage } from './pages/runs';
import type { Location } from './router';

export interface RouteDef {
  pattern: string;
  title: (params: Record<string, string>) => string;
  // The nav entry this page belongs to (highlighted while on it).
  section: string;
  render: (params: Record<string, string>, loc: Location) => ComponentChildren;
}

export const NAV: { section: string; label: string; href: string }[] = [
  { section: 'experiments', label: 'Experiments', href: '/experiments' },
  { section: 'models', label: 'Models', href: '/models' },
];

export const ROUTES: RouteDef[] = [
  { pattern: '/experiments', section: 'experiments', title: () => 'Experiments', render: (_p, loc) => <ExperimentsPage loc={loc} /> },
  {
    pattern: '/experiments/:id',
    section: 'experiments',
    title: () => 'Runs',
    render: (p, loc) => <ExperimentPage key={p.id} id={p.id} loc={loc} />,
  },
  { pattern: '/runs/:id', section: 'experiments', title: () => 'Run', render: (p, loc) => <RunPage key={p.id} id={p.id} loc={loc} /> },
  { pattern: '/compare', section: 'experiments', title: () => 'Compare runs', render: (_p, loc) => <ComparePage loc={loc} /> },
  { pattern: '/models', section: 'models', title: () => 'Models', render: (_p, loc) => <ModelsPage loc={loc} /> },
  { pattern: '/models/:name', section: 'models', title: (p) => p.name, render: (p) => <ModelPage key={p.name} name={p.name} /> },
  {
    pattern: '/models/:name/versions/:version',
    section: 'models',
    title: (p) => `${p.name} v${p.version}`,
    render: (p) => <ModelVersionPage key={`${p.name}/${p.version}`} name={p.name} version={p.version} />,
  },
];
