// The Lua scripts that make Redis writes monotone, run atomically on the server and defined once per client with
// ioredis defineCommand (EVALSHA, falling back to EVAL on a fresh connection): a latest-value hash is replaced
// only by a record at least as new in (ts, revision); a snapshot only by one at an offset at least as high.

import type { ChainableCommander, Redis } from 'ioredis';

/**
 * KEYS[1] hash; ARGV[1] ts (epoch ms), ARGV[2] revision, ARGV[3] TTL seconds (0 = none), ARGV[4..] field/value
 * pairs. Returns 1 when written, 0 when the stored (ts, revision) is newer. Equal = rewritten (idempotent).
 */
export const LATEST_LUA = `
local stored = redis.call('HMGET', KEYS[1], 'ts', 'revision')
local ts = tonumber(ARGV[1])
local revision = tonumber(ARGV[2])
local storedTs = tonumber(stored[1])
if storedTs then
  local storedRevision = tonumber(stored[2]) or 0
  if storedTs > ts or (storedTs == ts and storedRevision > revision) then
    return 0
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
return 1
`;

/**
 * KEYS[1] hash; ARGV[1] offset (decimal, no leading zeros, < 2^63), ARGV[2] state JSON, ARGV[3] takenAtMs,
 * ARGV[4] group, ARGV[5] topic, ARGV[6] partition. Offsets are compared as decimal strings (length, then digit
 * by digit), never as Lua numbers, which lose precision past 2^53. Returns 1 when written, 0 when ignored.
 */
export const SNAPSHOT_LUA = `
local stored = redis.call('HGET', KEYS[1], 'offset')
local offset = ARGV[1]
if stored then
  if #stored > #offset then
    return 0
  end
  if #stored == #offset then
    for i = 1, #offset do
      local a = string.byte(stored, i)
      local b = string.byte(offset, i)
      if a > b then
        return 0
      end
      if a < b then
        break
      end
    end
  end
end
redis.call('HSET', KEYS[1], 'offset', offset, 'state', ARGV[2], 'takenAtMs', ARGV[3], 'group', ARGV[4], 'topic', ARGV[5], 'partition', ARGV[6])
return 1
`;

export const LATEST_COMMAND = 'mlfpSetLatest';
export const SNAPSHOT_COMMAND = 'mlfpSaveSnapshot';

/** The custom commands as they appear on a pipeline. */
export interface MonotoneCommands {
  mlfpSetLatest(
    key: string,
    ts: number,
    revision: number,
    ttlSeconds: number,
    ...fields: string[]
  ): ChainableCommander;
  mlfpSaveSnapshot(
    key: string,
    offset: string,
    state: string,
    takenAtMs: number,
    group: string,
    topic: string,
    partition: number,
  ): ChainableCommander;
}

/** Defines both commands on a client (idempotent per client). */
export function defineMonotoneCommands(client: Redis): void {
  if (LATEST_COMMAND in client) return;
  client.defineCommand(LATEST_COMMAND, { numberOfKeys: 1, lua: LATEST_LUA });
  client.defineCommand(SNAPSHOT_COMMAND, { numberOfKeys: 1, lua: SNAPSHOT_LUA });
}

/** A pipeline typed with the custom commands. */
export function monotonePipeline(client: Redis): ChainableCommander & MonotoneCommands {
  return client.pipeline() as ChainableCommander & MonotoneCommands;
}
