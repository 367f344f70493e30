/**
 * Random-access reads from a disk image given as a path or a Buffer, without loading a large file into
 * memory: the audit walks a 256 MiB image in chunks through one of these.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ModelInputError } from './errors.ts';

export interface ImageSource {
  /** what to call the image in messages (its path, or "buffer") */
  readonly name: string;
  readonly length: number;
  /** `length` bytes at `position`; the result may be a view into `scratch` (valid until its next use) */
  read(position: number, length: number, scratch?: Buffer): Buffer;
  close(): void;
}

export function openImage(image: Buffer | string, name?: string): ImageSource {
  if (Buffer.isBuffer(image)) return bufferSource(image, name ?? 'buffer');
  let fd: number;
  try {
    fd = openSync(image, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new ModelInputError(`cannot open image (${code ?? String(cause)})`, { source: image, cause });
  }
  const length = fstatSync(fd).size;
  return {
    name: name ?? image,
    length,
    read(position, len, scratch) {
      checkRange(this.name, length, position, len);
      const buf = scratch && scratch.length >= len ? scratch.subarray(0, len) : Buffer.allocUnsafe(len);
      let done = 0;
      while (done < len) {
        const n = readSync(fd, buf, done, len - done, position + done);
        if (n === 0) throw new ModelInputError(`image ended while reading ${len} bytes at ${position}`, { source: this.name });
        done += n;
      }
      return buf;
    },
    close() {
      closeSync(fd);
    },
  };
}

function bufferSource(image: Buffer, name: string): ImageSource {
  return {
    name,
    length: image.length,
    read(position, len) {
      checkRange(name, image.length, position, len);
      return image.subarray(position, position + len);
    },
    close() {},
  };
}

function checkRange(name: string, size: number, position: number, len: number): void {
  if (position < 0 || len < 0 || position + len > size) {
    throw new ModelInputError(`image is truncated: need bytes ${position}..${position + len - 1}, image has ${size}`, { source: name });
  }
}
