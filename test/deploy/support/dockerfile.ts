/**
 * The Dockerfile, read with dockerfile-ast (the parser behind VS Code's Docker support) and
 * replayed without Docker: each stage gets a folder that stands for its root file system, COPY
 * copies into it (from the build context, filtered by .dockerignore with Docker's own matching
 * rules, or from an earlier stage's folder), WORKDIR moves within it, and RUN runs the line with
 * `sh -c` in that folder. So the commands CI runs are the Dockerfile's, read from it each time.
 *
 * Limits, by design: a stage's RUN lines run on this machine, not in the base image, so the test
 * says which stages it replays; the OS layer (apt-get) is listed instead of run. ARG values are
 * their defaults; COPY --chown, RUN --mount and the like are not supported and throw.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { promisify } from 'node:util';
import dockerignore from '@balena/dockerignore';
import { DockerfileParser, ModifiableInstruction, PropertyInstruction, type Dockerfile, type Instruction } from 'dockerfile-ast';

const run = promisify(execFile);

export interface Stage {
  name: string;
  /** The image or earlier stage it starts from, ARGs resolved. */
  from: string;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  text: string;
  ast: Dockerfile;
  stages: Stage[];
}

export async function readDockerfile(path: string): Promise<ParsedDockerfile> {
  const text = await readFile(path, 'utf8');
  const ast = DockerfileParser.parse(text);
  const args = new Map(ast.getInitialARGs().flatMap((arg) => {
    const property = arg.getProperty();
    return property ? [[property.getName(), property.getValue() ?? '']] : [];
  }));
  const expand = (value: string): string => value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => args.get(a ?? b ?? '') ?? '');
  const stages: Stage[] = [];
  for (const instruction of ast.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === 'FROM') {
      const [image, as, name] = instruction.getArguments().map((argument) => argument.getValue());
      if (!image || as?.toUpperCase() !== 'AS' || !name) throw new Error(`line ${line(instruction)}: every stage needs a name (FROM <image> AS <name>)`);
      stages.push({ name, from: expand(image), instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)?.instructions.push(instruction);
    } else if (keyword !== 'ARG') {
      throw new Error(`line ${line(instruction)}: ${keyword} before the first FROM`);
    }
  }
  return { text, ast, stages };
}

export function stage(dockerfile: ParsedDockerfile, name: string): Stage {
  const found = dockerfile.stages.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`the Dockerfile has no stage named ${name} (stages: ${dockerfile.stages.map((s) => s.name).join(', ')})`);
  return found;
}

/** An instruction's arguments as one string, continuation lines joined. */
export function argumentsOf(instruction: Instruction): string {
  return instruction.getArgumentsContent() ?? '';
}

/** The exec form (`["a", "b"]`) of ENTRYPOINT, CMD or HEALTHCHECK CMD, parsed. */
export function execForm(instruction: Instruction): string[] {
  const text = argumentsOf(instruction).replace(/^CMD\s+/i, '');
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) throw new Error(`line ${line(instruction)}: not the exec form: ${text}`);
  return parsed;
}

function line(instruction: Instruction): number {
  return instruction.getRange().start.line + 1;
}

/** A replayed stage: its root folder and what its instructions set. */
export interface StageResult {
  root: string;
  /** Absolute path inside the stage (`/app`). */
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
}

export interface ReplayOptions {
  context: string;
  /** Where each stage's root folder is made (`<into>/<stage>`). */
  into: string;
  /** Stages whose RUN lines run here; every other stage may only set files and metadata. */
  runIn: readonly string[];
  /** Replayed stages so far, by name (filled in by replayStage). */
  done: Map<string, StageResult>;
  /** Progress lines. */
  log: (line: string) => void;
}

/** Replays one stage; the stages it copies from or starts from must be in `done`. */
export async function replayStage(dockerfile: ParsedDockerfile, name: string, options: ReplayOptions): Promise<StageResult> {
  const current = stage(dockerfile, name);
  const root = join(options.into, name);
  await mkdir(root, { recursive: true });
  const parent = options.done.get(current.from);
  if (parent) await cp(parent.root, root, { recursive: true, verbatimSymlinks: true });
  const result: StageResult = { root, workdir: parent?.workdir ?? '/', env: { ...parent?.env }, user: parent?.user };
  const ignored = dockerignore.default().add(await readFile(join(options.context, '.dockerignore'), 'utf8').catch(() => ''));
  const inRoot = (path: string): string => join(root, posix.resolve(result.workdir, path));

  for (const instruction of current.instructions) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((argument) => argument.getValue());
    const flags = new Map(instruction instanceof ModifiableInstruction ? instruction.getFlags().map((flag) => [flag.getName(), flag.getValue()]) : []);
    if (keyword === 'WORKDIR') {
      result.workdir = posix.resolve(result.workdir, args[0] ?? '/');
      await mkdir(inRoot('.'), { recursive: true });
    } else if (keyword === 'ENV' && instruction instanceof PropertyInstruction) {
      for (const property of instruction.getProperties()) {
        result.env[property.getName()] = property.getValue() ?? '';
      }
    } else if (keyword === 'USER') {
      result.user = args[0];
    } else if (keyword === 'COPY') {
      for (const flag of flags.keys()) if (flag !== 'from') throw new Error(`line ${line(instruction)}: COPY --${flag} is not replayed`);
      const from = flags.get('from');
      const source = from ? options.done.get(from) : undefined;
      if (from && !source) throw new Error(`line ${line(instruction)}: COPY --from=${from} before that stage was replayed`);
      const dest = args.at(-1) ?? '.';
      for (const src of args.slice(0, -1)) {
        if (!source && ignored.ignores(posix.normalize(src))) throw new Error(`line ${line(instruction)}: ${src} is excluded by .dockerignore, so docker build would not find it`);
        const target = dest.endsWith('/') ? join(inRoot(dest), basename(src)) : inRoot(dest);
        await cp(source ? join(source.root, src) : join(options.context, src), target, { recursive: true, verbatimSymlinks: true });
      }
    } else if (keyword === 'RUN') {
      if (!options.runIn.includes(name)) throw new Error(`line ${line(instruction)}: stage ${name} has a RUN line, but this replay runs commands only in ${options.runIn.join(', ')}`);
      if (flags.size > 0) throw new Error(`line ${line(instruction)}: RUN flags are not replayed`);
      const command = argumentsOf(instruction);
      options.log(`[${name}] RUN ${command}`);
      await run('sh', ['-c', command], { cwd: inRoot('.'), env: { ...process.env, ...result.env }, maxBuffer: 64 * 1024 * 1024 });
    } else if (!['EXPOSE', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD', 'ARG', 'LABEL', 'STOPSIGNAL'].includes(keyword)) {
      throw new Error(`line ${line(instruction)}: ${keyword} is not replayed`);
    }
  }
  options.done.set(name, result);
  return result;
}

/** What a stage declares for the containers run from it (its own lines, not its parents'). */
export interface ImageMetadata {
  env: Record<string, string>;
  user: string | undefined;
  exposed: number[];
  entrypoint: string[];
  cmd: string[];
  /** The HEALTHCHECK's command, exec form. */
  healthcheck: string[];
}

export function imageMetadata(dockerfile: ParsedDockerfile, name: string): ImageMetadata {
  const instructions = stage(dockerfile, name).instructions;
  const last = (keyword: string): Instruction | undefined => instructions.filter((i) => i.getKeyword() === keyword).at(-1);
  const env: Record<string, string> = {};
  for (const instruction of instructions) {
    if (instruction instanceof PropertyInstruction && instruction.getKeyword() === 'ENV') {
      for (const property of instruction.getProperties()) env[property.getName()] = property.getValue() ?? '';
    }
  }
  const exec = (keyword: string): string[] => {
    const instruction = last(keyword);
    return instruction ? execForm(instruction) : [];
  };
  return {
    env,
    user: last('USER')?.getArguments()[0]?.getValue(),
    exposed: instructions.filter((i) => i.getKeyword() === 'EXPOSE').flatMap((i) => i.getArguments().map((a) => Number(a.getValue().split('/')[0]))),
    entrypoint: exec('ENTRYPOINT'),
    cmd: exec('CMD'),
    healthcheck: exec('HEALTHCHECK'),
  };
}
