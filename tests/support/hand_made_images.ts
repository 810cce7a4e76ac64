/**
 * Image files written byte by byte for tests of the decoder's limits and messages: a PNG
 * claiming a huge size, and a CMYK JPEG (which libjpeg cannot turn into RGB by itself).
 */

/** CRC-32 (ISO 3309, as PNG uses it), bit by bit: slow and obviously right. */
function referenceCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + data.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  chunk.set(new TextEncoder().encode(type), 4);
  chunk.set(data, 8);
  view.setUint32(8 + data.length, referenceCrc32(chunk.subarray(4, 8 + data.length)));
  return chunk;
}

/**
 * A well-formed PNG header claiming `width`×`height` 8-bit RGB, with a zlib stream of a few
 * zero bytes as its image data: a few hundred bytes that would ask a decoder for gigabytes.
 */
export async function pngClaiming(width: number, height: number): Promise<Uint8Array> {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, filter, no interlace
  const zlib = new Uint8Array(
    await new Response(
      new Blob([new Uint8Array(256)]).stream().pipeThrough(new CompressionStream("deflate")),
    ).arrayBuffer(),
  );
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", zlib),
    pngChunk("IEND", new Uint8Array()),
  ];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((offset, p) => (png.set(p, offset), offset + p.length), 0);
  return png;
}

/**
 * An 8×8 four-component (CMYK) baseline JPEG, written by hand: Adobe APP14 marker with
 * transform 0 (CMYK as stored), quantization all 1, and Huffman tables with a single symbol
 * each (DC difference category 0, AC end-of-block), both coded as the bit "0". Every block is
 * then "0" + "0" (DC 0, EOB): 4 blocks = 8 bits = one 0x00 byte, every sample 128.
 */
export function handMadeCmykJpeg(): Uint8Array {
  const segment = (marker: number, payload: number[]) => {
    const length = payload.length + 2;
    return [0xff, marker, length >> 8, length & 255, ...payload];
  };
  const oneSymbol = [1, ...new Array(15).fill(0), 0];
  return Uint8Array.from([
    0xff,
    0xd8,
    ...segment(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 0]), // "Adobe"
    ...segment(0xdb, [0, ...new Array(64).fill(1)]),
    ...segment(0xc0, [8, 0, 8, 0, 8, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0]),
    ...segment(0xc4, [0x00, ...oneSymbol]),
    ...segment(0xc4, [0x10, ...oneSymbol]),
    ...segment(0xda, [4, 1, 0, 2, 0, 3, 0, 4, 0, 0, 63, 0]),
    0x00,
    0xff,
    0xd9,
  ]);
}
