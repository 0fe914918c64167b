/**
 * Kubernetes manifests checked offline. Overlays are rendered by kustomize (`kustomize build`, or
 * the copy inside kubectl), then every object is checked two ways:
 * - against the Kubernetes OpenAPI schema (and KEDA's CRD schema for the ScaledObject), with the
 *   validators the npm packages `kubernetes-models` and `@kubernetes-models/keda` ship (types,
 *   required fields, formats, enums);
 * - for fields that do not exist, which those schemas let through (Kubernetes' OpenAPI does not
 *   close its objects): each object is type-checked by TypeScript against the same packages'
 *   interfaces, generated from the same schemas, whose excess-property check names every unknown
 *   field (`readinesProbe` is not a probe).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../../scripts/services/state.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Each kind the manifests may use: its model module and the interface of its fields. */
const models = new Map<string, { module: string; type: string }>([
  ['v1/ConfigMap', { module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' }],
  ['v1/Secret', { module: 'kubernetes-models/v1/Secret', type: 'ISecret' }],
  ['v1/Service', { module: 'kubernetes-models/v1/Service', type: 'IService' }],
  ['v1/Namespace', { module: 'kubernetes-models/v1/Namespace', type: 'INamespace' }],
  ['apps/v1/Deployment', { module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' }],
  ['batch/v1/Job', { module: 'kubernetes-models/batch/v1/Job', type: 'IJob' }],
  ['policy/v1/PodDisruptionBudget', { module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' }],
  ['keda.sh/v1alpha1/ScaledObject', { module: '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', type: 'IScaledObject' }],
]);

/** The kustomize command here: standalone kustomize, else kubectl's built-in copy; undefined if neither. */
export const kustomize: string[] | undefined = (() => {
  const candidates = [
    { command: ['kustomize', 'build'], probe: ['kustomize', 'version'] },
    { command: ['kubectl', 'kustomize'], probe: ['kubectl', 'version', '--client'] },
  ];
  for (const { command, probe } of candidates) {
    try {
      execFileSync(probe[0]!, probe.slice(1), { stdio: 'ignore' });
      return command;
    } catch {
      // not installed: try the next
    }
  }
  return undefined;
})();

/** `kustomize build <dir>`, parsed. */
export function render(dir: string): KubeObject[] {
  if (!kustomize) throw new Error('neither kustomize nor kubectl is installed');
  const output = execFileSync(kustomize[0]!, [...kustomize.slice(1), dir], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(output).map((document) => {
    if (document.errors.length > 0) throw new Error(`kustomize printed invalid YAML: ${document.errors[0]?.message}`);
    return document.toJS() as KubeObject;
  });
}

const id = (object: KubeObject): string => `${object.kind}/${object.metadata.name}`;

/** Schema problems of each object, as `<Kind>/<name>: <problem>`; empty when all are valid. */
export async function schemaProblems(objects: readonly KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const model = models.get(`${object.apiVersion}/${object.kind}`);
    if (!model) {
      problems.push(`${id(object)}: no schema for ${object.apiVersion} ${object.kind} (add it to support/kubernetes.ts)`);
      continue;
    }
    const loaded = (await import(model.module)) as Record<string, new (data: unknown) => { validate(): void }>;
    const Model = loaded[model.type.slice(1)];
    if (!Model) throw new Error(`${model.module} exports no ${model.type.slice(1)}`);
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${id(object)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return problems;
}

/** Fields that no schema defines, as `<Kind>/<name>: <TypeScript's message>`; empty when none. */
export function unknownFields(objects: readonly KubeObject[]): string[] {
  const known = objects.filter((object) => models.has(`${object.apiVersion}/${object.kind}`));
  const used = [...new Set(known.map((object) => models.get(`${object.apiVersion}/${object.kind}`)!))];
  const lines = used.map((model) => `import type { ${model.type} } from '${model.module}';`);
  const starts: Array<{ line: number; object: KubeObject }> = [];
  known.forEach((object, index) => {
    starts.push({ line: lines.join('\n').split('\n').length, object });
    lines.push(`export const object${index}: ${models.get(`${object.apiVersion}/${object.kind}`)!.type} = ${JSON.stringify(object, null, 1)};`);
  });
  const text = lines.join('\n');
  const file = join(repoRoot, 'test', 'deploy', 'manifests.generated.ts'); // never written: served from memory
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) => (name === file ? ts.createSourceFile(name, text, version) : getSourceFile(name, version, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, source).map((diagnostic) => {
    const line = diagnostic.start === undefined ? 0 : source.getLineAndCharacterOfPosition(diagnostic.start).line;
    const owner = starts.filter((start) => start.line <= line).at(-1)?.object;
    return `${owner ? id(owner) : 'manifests'}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  });
}
