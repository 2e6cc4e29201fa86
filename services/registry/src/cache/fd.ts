import { close, fdatasync, open, read, write } from "node:fs";
import { promisify } from "node:util";

/**
 * Plain file descriptors, promisified. The cache reads and writes big files
 * at positions from many requests at once; FileHandle's streams and reads
 * measured about twice as slow as these here.
 */
export const fd = {
  open: promisify(open),
  read: promisify(read),
  write: promisify(write) as (fd: number, buffer: Buffer, offset: number, length: number, position: number) => Promise<{ bytesWritten: number }>,
  datasync: promisify(fdatasync),
  close: promisify(close),
};

/**
 * Bytes per read from a cache file: large reads, few system calls. On
 * loopback 64 KiB reads halve throughput against 512 KiB; 1 MiB buys nothing
 * more and costs memory with many readers.
 */
export const READ_CHUNK = 512 * 1024;
