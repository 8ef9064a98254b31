// One WebSocket text frame (RFC 6455 §5.2: FIN, opcode 1, unmasked as a server sends) around a payload, built
// once per message and written as is to every subscriber's socket: the fan-out frames a message once, not once
// per client. Per-message deflate is off on this server, so the frame is the payload with a 2-10 byte header.

const framed = new WeakMap<Buffer, Buffer>();

export function textFrame(payload: Buffer): Buffer {
  const cached = framed.get(payload);
  if (cached !== undefined) return cached;
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(frame, header);
  framed.set(payload, frame);
  return frame;
}
