import { chmod, lstat, mkdir, readdir, realpath } from 'node:fs/promises'
import path from 'node:path'

const PRIVATE_DIR = 0o700
const PRIVATE_FILE = 0o600

/**
 * Makes `dataDir` readable by its owner only: the directory and every directory in it 0700, every
 * file 0600, whatever the umask was when they were made. Every journal and password hash lives
 * there, and PGlite creates its files with the process umask (often 0022, sometimes 0000).
 * Returns the paths it had to tighten, so the caller can say so once.
 */
export async function secureDataDir(dataDir: string): Promise<string[]> {
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR })
  const tightened: string[] = []
  const visit = async (target: string): Promise<void> => {
    const info = await lstat(target)
    // Symbolic links inside are neither followed nor changed: their target may lie outside DATA_DIR.
    if (info.isSymbolicLink()) return
    const wanted = info.isDirectory() ? PRIVATE_DIR : PRIVATE_FILE
    if ((info.mode & 0o777) !== wanted) {
      await chmod(target, wanted)
      tightened.push(target)
    }
    if (info.isDirectory()) for (const name of await readdir(target)) await visit(path.join(target, name))
  }
  // DATA_DIR itself may be a link (to a mounted volume, say): what it names is the data directory.
  await visit(await realpath(dataDir))
  return tightened
}

/**
 * Files moodlog itself creates from now on are private too (the secret, the lock). The umask is
 * per process: embedded mode owns its process, and nothing it writes is meant for other accounts.
 */
export function privateFileCreation(): void {
  process.umask(0o077)
}
