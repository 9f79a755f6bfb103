/** A run folder that cannot be used as asked (locked, holds a complete run, foreign files, nothing to resume): exit 2. */
export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunFolderError";
  }
}
