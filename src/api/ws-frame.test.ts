import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';

// ws's own frame parser (the CommonJS entry exports it)
const { Receiver } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean }) => NodeJS.EventEmitter & { write(chunk: Buffer): void };
};
import { textFrame } from './ws-frame.js';

describe('textFrame', () => {
  it.each([0, 125, 126, 65_535, 65_536, 200_000])(
    'a %i-byte payload reads back through ws’s own Receiver',
    async (size) => {
      const payload = Buffer.alloc(size, 'x');
      const frame = textFrame(payload);
      expect(frame.length).toBe(size + (size < 126 ? 2 : size < 65_536 ? 4 : 10));
      expect(textFrame(payload)).toBe(frame); // framed once per message
      const receiver = new Receiver({ isServer: false });
      const got = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
        receiver.on('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })),
      );
      receiver.write(frame);
      const { data, isBinary } = await got;
      expect(isBinary).toBe(false);
      expect(data.equals(payload)).toBe(true);
    },
  );
});
