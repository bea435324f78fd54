/** Operator-facing failure with the process exit code it maps to (sysexits: 64 = usage, 65 = bad input data). */
export class TransferError extends Error {
  override name = 'TransferError'
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}
