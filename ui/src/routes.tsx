// The route table and the main navigation: the one place a page is added
// (a route entry, and a nav entry when it has a top-level list).
import type { ComponentChildren } from 'preact';
import { ComparePage } from './pages/compare';
import { DatasetDiffPage, DatasetPage, DatasetsPage, DatasetVersionPage } from './pages/datasets';
import { DeploymentPage, DeploymentsPage } from './pages/deployments';
import { ExperimentsPage } from './pages/experiments';
import { ModelPage, ModelsPage, ModelVersionPage } from './pages/models';
import { MonitoringPage, MonitorPage } from './pages/monitoring';
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
  { section: 'datasets', label: 'Datasets', href: '/datasets' },
  { section: 'deployments', label: 'Deployments', href: '/deployments' },
  { section: 'monitoring', label: 'Monitoring', href: '/monitoring' },
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
  { pattern: '/datasets', section: 'datasets', title: () => 'Datasets', render: (_p, loc) => <DatasetsPage loc={loc} /> },
  { pattern: '/datasets/:name', section: 'datasets', title: (p) => p.name, render: (p) => <DatasetPage key={p.name} name={p.name} /> },
  {
    pattern: '/datasets/:name/versions/:version',
    section: 'datasets',
    title: (p) => `${p.name} v${p.version}`,
    render: (p) => <DatasetVersionPage key={`${p.name}/${p.version}`} name={p.name} version={p.version} />,
  },
  {
    pattern: '/datasets/:name/diff',
    section: 'datasets',
    title: (p) => `${p.name} diff`,
    render: (p, loc) => <DatasetDiffPage key={p.name} name={p.name} loc={loc} />,
  },
  { pattern: '/deployments', section: 'deployments', title: () => 'Deployments', render: (_p, loc) => <DeploymentsPage loc={loc} /> },
  {
    pattern: '/deployments/:name',
    section: 'deployments',
    title: (p) => p.name,
    render: (p) => <DeploymentPage key={p.name} name={p.name} />,
  },
  { pattern: '/monitoring', section: 'monitoring', title: () => 'Monitoring', render: (_p, loc) => <MonitoringPage loc={loc} /> },
  {
    pattern: '/monitoring/:deployment',
    section: 'monitoring',
    title: (p) => `${p.deployment} monitoring`,
    render: (p, loc) => <MonitorPage key={p.deployment} deployment={p.deployment} loc={loc} />,
  },
];
