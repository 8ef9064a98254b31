// `mlfp` command line. Parses arguments (commander), runs one command, and turns every failure into a
// one-line message on stderr and a non-zero exit code; returns the exit code instead of exiting.

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isMlfpError } from '../errors.js';
import { TIMEFRAMES, type Timeframe } from '../domain/types.js';
import { barsCommand } from './bars-command.js';
import { featuresCommand } from './features-command.js';
import { runCommand, serveCommand } from './run-command.js';
import { scoreCommand } from './score.js';
import { monitorCommand, type MonitorFormat } from './monitor-command.js';
import { adminCommand } from './models.js';
import type { OnError } from './rejects.js';
import type { CliIo } from './io.js';

export type { CliIo };

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTTY: process.stderr.isTTY === true,
};

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive number (got "${value}")`);
    }
    return n;
  };
}

function nonNegativeInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${name} must be a non-negative integer (got "${value}")`);
    }
    return n;
  };
}

const timeframeOption = (flag: string, description: string) =>
  new Option(flag, description).choices(TIMEFRAMES as readonly string[]);
const onErrorOption = () =>
  new Option(
    '--on-error <mode>',
    'on a malformed or rejected row: fail (stop, exit 1) or skip (report, go on)',
  )
    .choices(['fail', 'skip'])
    .default('fail');

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let exitCode = 0;
  const program = new Command('mlfp')
    .description('ML Finance Platform real-time engine: ticks -> bars -> features -> model scores')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('bars')
    .description('aggregate ticks (CSV: symbol,ts,price,size) into OHLCV+VWAP bars of one timeframe')
    .requiredOption('--input <file>', 'ticks CSV')
    .addOption(timeframeOption('--timeframe <tf>', 'bar timeframe').makeOptionMandatory())
    .requiredOption('--output <file>', 'bars CSV to write')
    .option(
      '--allowed-lateness-ms <ms>',
      'ticks this far behind the newest one still count',
      nonNegativeInteger('--allowed-lateness-ms'),
      2_000,
    )
    .option(
      '--future-tolerance-ms <ms>',
      'a tick more than this ahead of the stream is held until later ticks confirm its time',
      nonNegativeInteger('--future-tolerance-ms'),
      60_000,
    )
    .option(
      '--confirm-ticks <n>',
      'ticks that confirm (or contradict) a held tick before it is applied (or rejected as future_time)',
      nonNegativeInteger('--confirm-ticks'),
      3,
    )
    .option('--session-timezone <zone>', 'daily bars follow a session in this IANA time zone (else UTC days)')
    .option('--session-open <HH:MM>', 'session open, local time (with --session-timezone)')
    .option('--session-close <HH:MM>', 'session close, local time (with --session-timezone)')
    .addOption(onErrorOption())
    .option('--rejects <file>', 'with --on-error skip: write rejected rows to this CSV')
    .action(async (opts: Record<string, unknown>) => {
      const summary = await barsCommand(
        {
          input: opts.input as string,
          output: opts.output as string,
          timeframe: opts.timeframe as Timeframe,
          allowedLatenessMs: opts.allowedLatenessMs as number,
          futureToleranceMs: opts.futureToleranceMs as number,
          confirmTicks: opts.confirmTicks as number,
          sessionTimezone: opts.sessionTimezone as string | undefined,
          sessionOpen: opts.sessionOpen as string | undefined,
          sessionClose: opts.sessionClose as string | undefined,
          onError: opts.onError as OnError,
          rejects: opts.rejects as string | undefined,
        },
        io.stderr,
      );
      io.stderr(`${summary}\n`);
    });

  program
    .command('features')
    .description('compute the 16 feature columns for bars (CSV: symbol,ts,open,high,low,close,volume)')
    .requiredOption('--input <file>', 'bars CSV')
    .requiredOption('--output <file>', 'features CSV to write (input columns + 16 features)')
    .addOption(
      timeframeOption(
        '--timeframe <tf>',
        'timeframe of the input bars (annualises historical_vol_21)',
      ).default('1d'),
    )
    .option(
      '--periods-per-year <n>',
      'override the periods per year used by historical_vol_21',
      positiveNumber('--periods-per-year'),
    )
    .addOption(onErrorOption())
    .option('--rejects <file>', 'with --on-error skip: write rejected rows to this CSV')
    .action(async (opts: Record<string, unknown>) => {
      const summary = await featuresCommand(
        {
          input: opts.input as string,
          output: opts.output as string,
          timeframe: opts.timeframe as Timeframe,
          periodsPerYear: opts.periodsPerYear as number | undefined,
          onError: opts.onError as OnError,
          rejects: opts.rejects as string | undefined,
        },
        io.stderr,
      );
      io.stderr(`${summary}\n`);
    });

  program
    .command('run')
    .description('run the live engine (no config: embedded synthetic market, no external service)')
    .option('--config <file>', 'engine config JSON (see README "Configuration")')
    .option(
      '--max-ticks <n>',
      'stop after this many ticks (overrides synthetic.maxTicks)',
      nonNegativeInteger('--max-ticks'),
    )
    .action(async (opts: Record<string, unknown>) => {
      exitCode = await runCommand(
        { config: opts.config as string | undefined, maxTicks: opts.maxTicks as number | undefined },
        io,
      );
    });

  program
    .command('serve')
    .description(
      'serve the public API alone (WebSocket, REST, dashboard) from the Kafka output topics of every engine instance',
    )
    .option(
      '--config <file>',
      'engine config JSON: kafka.brokers, outputs.kafka, api (see README "Public API")',
    )
    .action(async (opts: Record<string, unknown>) => {
      exitCode = await serveCommand({ config: opts.config as string | undefined }, io);
    });

  program
    .command('score')
    .description(
      'score a features CSV with a model (folder with manifest.json, a manifest, or a bare model file)',
    )
    .requiredOption(
      '--model <path>',
      'model folder, manifest.json, or a bare .txt (LightGBM), .json (XGBoost), .onnx file',
    )
    .requiredOption(
      '--input <file>',
      'features CSV (`mlfp features` output, or any CSV with the model inputs)',
    )
    .requiredOption('--output <file>', 'predictions CSV to write')
    .option('--features <names>', 'input names of a bare ONNX / TF.js model, comma separated', (v: string) =>
      v.split(',').map((name) => name.trim()),
    )
    .option('--batch-size <n>', 'rows per inference', nonNegativeInteger('--batch-size'))
    .action(async (opts: Record<string, unknown>) => {
      exitCode = await scoreCommand(
        {
          model: opts.model as string,
          input: opts.input as string,
          output: opts.output as string,
          features: opts.features as string[] | undefined,
          batchSize: opts.batchSize as number | undefined,
        },
        { stderr: { write: io.stderr } },
      );
    });

  program
    .command('monitor')
    .description(
      'the drift and performance report of the live model monitor, offline: bars and predictions CSV replayed in event time',
    )
    .requiredOption(
      '--predictions <file>',
      'predictions CSV: symbol,ts,model,version[,timeframe,kind,latency_ms] and an output JSON column or one column per output',
    )
    .requiredOption(
      '--bars <file>',
      'bars CSV: symbol,ts,open,high,low,close,volume[,timeframe,end,vwap,trades,revision]',
    )
    .option(
      '--models <dir>',
      "models directory with the manifests (default: the config's models.dir, models)",
    )
    .option(
      '--config <file>',
      'engine config JSON whose monitoring section applies (see README "Configuration")',
    )
    .addOption(
      timeframeOption(
        '--timeframe <tf>',
        "timeframe of a bars file without a timeframe column (default: the models' one when they share it)",
      ),
    )
    .option('--out <file>', 'report file (default: stdout)')
    .addOption(
      new Option(
        '--format <format>',
        'report format (default: json when --out ends in .json, else csv)',
      ).choices(['csv', 'json']),
    )
    .option('--quiet', 'no progress or summary on stderr')
    .action(async (opts: Record<string, unknown>) => {
      const summary = await monitorCommand(
        {
          predictions: opts.predictions as string,
          bars: opts.bars as string,
          models: opts.models as string | undefined,
          config: opts.config as string | undefined,
          timeframe: opts.timeframe as Timeframe | undefined,
          out: opts.out as string | undefined,
          format: opts.format as MonitorFormat | undefined,
          quiet: opts.quiet === true,
        },
        io,
      );
      if (opts.quiet !== true) io.stderr(`${summary}\n`);
    });

  program
    .command('models')
    .description('administrator operations on a model directory: list | load | promote | rollback | shadow')
    .helpOption(false)
    .allowUnknownOption()
    .argument('[args...]', 'e.g. `promote lgbm-return 1.1.0 --dir models`')
    .action(async (args: string[]) => {
      exitCode = await adminCommand(args, { stdout: { write: io.stdout }, stderr: { write: io.stderr } });
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      return error.exitCode === 0 ? 0 : 2;
    }
    if (isMlfpError(error)) {
      io.stderr(`mlfp: ${error.code}: ${error.message}\n`);
      return error.code === 'bad_argument' || error.code === 'config_invalid' ? 2 : 1;
    }
    io.stderr(`mlfp: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}
