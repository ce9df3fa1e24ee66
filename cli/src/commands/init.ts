// `ukernel init`: scaffold a project in the current directory. Refuses to overwrite anything
// without --force, and writes all files or none (temp files first, then renames).
import { existsSync, lstatSync, mkdirSync, renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UkernelError } from '../errors.js';
import { printable, removeQuietly, tempPathFor, writeFileAtomic } from '../fsutil.js';
import { LANGUAGES, PROJECT_NAME_RE, TEMPLATES, type Language } from '../project/config.js';
import { projectTemplate } from '../project/templates.js';
import { readToolchainPins, ukernelRoot } from '../toolchain.js';
import { writeOut } from '../ui.js';

export interface RawInitOptions {
  name?: string;
  lang?: string;
  template?: string;
  force?: boolean;
}

export interface InitDeps {
  cwd: string;
  say: (line: string) => void;
  zigVersion: string;
}

function available(): string {
  return LANGUAGES.map((lang) => `--lang ${lang} --template ${TEMPLATES[lang].join('|')}`).join('; ');
}

export async function init(raw: RawInitOptions, deps: Partial<InitDeps> = {}): Promise<number> {
  const cwd = deps.cwd ?? process.cwd();
  const say = deps.say ?? writeOut;
  const name = raw.name ?? basename(cwd);
  if (!PROJECT_NAME_RE.test(name)) {
    const from =
      raw.name === undefined ? `the directory name "${printable(name)}" (no --name given)` : `--name "${printable(name)}"`;
    throw new UkernelError('InvalidOption', `${from} is not a valid project name`, {
      hint: 'Use 1–63 characters of a–z, 0–9 and "-", not starting or ending with "-", e.g. --name hello-worker.',
    });
  }
  const lang = raw.lang ?? 'native';
  if (!(LANGUAGES as readonly string[]).includes(lang)) {
    throw new UkernelError('TemplateUnknown', `no language "${printable(lang)}"; available: ${LANGUAGES.join(', ')}`, {
      hint: `Use ${available()}. Other languages come with their adapters.`,
    });
  }
  const template = raw.template ?? 'worker';
  const templates: readonly string[] = TEMPLATES[lang as Language];
  if (!templates.includes(template)) {
    throw new UkernelError(
      'TemplateUnknown',
      `no template "${printable(template)}" for --lang ${lang}; available: ${templates.join(', ')}`,
      {
        hint: `Use ${available()}.`,
      },
    );
  }

  const files = projectTemplate(lang, template, name, deps.zigVersion ?? readToolchainPins(ukernelRoot()).zigVersion);
  const existing = files.filter((file) => exists(join(cwd, file.path))).map((file) => file.path);
  if (existing.length > 0 && raw.force !== true) {
    throw new UkernelError(
      'InitConflict',
      `not overwriting existing ${existing.length === 1 ? 'file' : 'files'}: ${existing.join(', ')}`,
    );
  }

  // All temp files first: a failure here leaves the directory as it was.
  const temps: string[] = [];
  try {
    for (const file of files) {
      const path = join(cwd, file.path);
      const temp = tempPathFor(path);
      temps.push(temp);
      writeFileAtomic(temp, file.contents, { display: file.path });
    }
    files.forEach((file, index) => {
      mkdirSync(dirname(join(cwd, file.path)), { recursive: true });
      renameSync(temps[index]!, join(cwd, file.path));
    });
  } finally {
    for (const temp of temps) removeQuietly(temp);
  }
  for (const file of files) say(`Created ${file.path}`);
  return 0;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return existsSync(path);
  }
}
