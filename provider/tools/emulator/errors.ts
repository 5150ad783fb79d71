/**
 * An error the emulated gateway answers with, in the real body shape `{message, httpStatusCode, errorCode}`.
 * Codes seen in vendor code are used where known (79 volume, 142 protection domain, 4039 mapping, 226 name
 * too long); where no client shows the number (already mapped, host has mappings, duplicate NQN) the
 * emulator answers 500 with errorCode 0 and the gateway's message text (goscaleio code.properties).
 */
export class GatewayError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** PowerFlex errorCode. */
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = "GatewayError";
  }

  /** The JSON body the gateway sends. */
  body(): { message: string; httpStatusCode: number; errorCode: number } {
    return { message: this.message, httpStatusCode: this.status, errorCode: this.errorCode };
  }
}

/** errorCode values the emulator uses. */
export const Codes = {
  generic: 0,
  notFound: 3,
  volumeNotFound: 79,
  protectionDomainNotFound: 142,
  nameTooLong: 226,
  invalidMapping: 4039,
} as const;

/** 400 validation error, as the gateway words it. */
export function badRequest(message: string): GatewayError {
  return new GatewayError(400, Codes.generic, message);
}
