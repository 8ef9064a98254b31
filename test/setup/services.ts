// Vitest global setup for test/integration/**: starts or reuses Kafka, the schema registry, Keycloak, PostgreSQL
// and Redis through scripts/services.sh, and hands their addresses to tests as `inject('services')`.
// Services are left running for the next run (fast re-runs); MLFP_STOP_SERVICES=1 stops those it started.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

/** Where each real service answers; the same names as the MLFP_* variables `services.sh env` prints. */
export interface ServiceAddresses {
  /** host:port list for kafkajs `brokers` (MLFP_KAFKA_BROKERS, comma-separated). */
  kafkaBrokers: string[];
  /** Confluent-compatible API base, usable as SchemaRegistry `host` (MLFP_REGISTRY_URL). */
  registryUrl: string;
  /** postgres:// URL of the `test` database (MLFP_POSTGRES_URL). */
  postgresUrl: string;
  /** redis:// URL (MLFP_REDIS_URL). */
  redisUrl: string;
  /** the test realm's issuer, `<base>/realms/mlfp` (MLFP_KEYCLOAK_ISSUER); tests that need it fail without it */
  keycloakIssuer: string | undefined;
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceAddresses;
  }
}

const SCRIPT = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));
const SERVICES = ['kafka', 'registry', 'keycloak', 'postgres', 'redis'] as const;

interface ScriptResult {
  code: number;
  stdout: string;
}

/** Runs services.sh; its progress (stderr) goes straight to the terminal so a cold start is not silent. */
function runScript(args: readonly string[]): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

async function runScriptOrThrow(args: readonly string[]): Promise<string> {
  const result = await runScript(args);
  if (result.code !== 0) {
    throw new Error(
      `scripts/services.sh ${args.join(' ')} exited with ${result.code} (its messages are above)`,
    );
  }
  return result.stdout;
}

/** Parses `KEY=value` lines; a value given in the environment wins (MLFP_SKIP_SERVICES with other hosts). */
export function parseServiceEnv(text: string, environment: NodeJS.ProcessEnv): ServiceAddresses {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const separator = line.indexOf('=');
    if (separator > 0) values.set(line.slice(0, separator), line.slice(separator + 1).trim());
  }
  const pick = (key: string): string => {
    const value = environment[key] ?? values.get(key);
    if (value === undefined || value === '') throw new Error(`services: no address for ${key}`);
    return value;
  };
  return {
    kafkaBrokers: pick('MLFP_KAFKA_BROKERS')
      .split(',')
      .map((broker) => broker.trim())
      .filter((broker) => broker !== ''),
    registryUrl: pick('MLFP_REGISTRY_URL'),
    postgresUrl: pick('MLFP_POSTGRES_URL'),
    redisUrl: pick('MLFP_REDIS_URL'),
    keycloakIssuer: environment['MLFP_KEYCLOAK_ISSUER'] ?? values.get('MLFP_KEYCLOAK_ISSUER'),
  };
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const skip = process.env['MLFP_SKIP_SERVICES'] === '1';
  const stopAfter = process.env['MLFP_STOP_SERVICES'] === '1';
  const wereDown: string[] = [];
  if (!skip) {
    if (stopAfter) {
      for (const service of SERVICES) {
        if ((await runScript(['status', service])).code !== 0) wereDown.push(service);
      }
    }
    await runScriptOrThrow(['up', 'all']);
  }
  project.provide('services', parseServiceEnv(await runScriptOrThrow(['env', 'all']), process.env));
  if (!stopAfter || wereDown.length === 0) return undefined;
  return async () => {
    // down leaves the machine's PostgreSQL and Redis alone even if up had to start them.
    for (const service of wereDown) await runScriptOrThrow(['down', service]);
  };
}
