// The REST requests' schemas: they validate the requests and generate the OpenAPI document (documents.ts).

import { z } from 'zod';

export const latestQuerySchema = z.strictObject({
  symbol: z.string().regex(/^[A-Za-z0-9._:/-]{1,32}$/u),
  timeframe: z.enum(['5m', '1h', '1d']),
  model: z.string().min(1).max(64).optional(),
});
export const versionBodySchema = z.strictObject({ version: z.string().min(1).max(64) });
export const shadowBodySchema = z.strictObject({ version: z.string().min(1).max(64).nullable() });
export const loadBodySchema = z.strictObject({ source: z.string().min(1).max(4_096) });
