// The shell: skip link, header navigation, the routed page, focus moved to
// the page's heading after each navigation (for keyboard and screen readers).
import { useEffect, useRef } from 'preact/hooks';
import { NAV, ROUTES } from './routes';
import { Link, match, navigate, useLocation } from './router';

export function App() {
  const loc = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  let found: { route: (typeof ROUTES)[number]; params: Record<string, string> } | undefined;
  for (const route of ROUTES) {
    const params = match(route.pattern, loc.path);
    if (params) {
      found = { route, params };
      break;
    }
  }
  const isRoot = loc.path === '/' || loc.path === '';
  useEffect(() => {
    if (isRoot) navigate('/experiments', { replace: true });
  }, [isRoot]);

  useEffect(() => {
    document.title = found ? `${found.route.title(found.params)} · mlforge` : 'mlforge';
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
  }, [loc.path]);

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/experiments" class="brand" aria-label="mlforge home">
          mlforge
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.section}>
                <Link href={n.href} aria-current={found?.route.section === n.section ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {found ? (
          found.route.render(found.params, loc)
        ) : isRoot ? null : (
          <section>
            <h1>Page not found</h1>
            <p>
              Nothing lives at <code>{loc.path}</code>. Go to the <Link href="/experiments">experiments</Link>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}
