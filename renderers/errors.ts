/**
 * The two ways render can fail. A UsageError is the user's to fix (exit code 2, one message that
 * names the flag and the fix); a RenderBug means meshwasm produced something its own checks reject,
 * which no input should be able to cause (exit code 1, asks for a bug report).
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class RenderBug extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(
      `meshwasm bug: ${message}\nThe rendered output failed meshwasm's own validation; nothing was printed. Please report this with the command line that caused it.`,
    );
    this.name = 'RenderBug';
  }
}
