/**
 * The seam where upstream credentials go. The client asks for headers before
 * every request and reports a 401 challenge; token-auth.ts implements it with
 * Docker config credentials, Basic and bearer tokens.
 */
export interface AuthScope {
  /** host[:port] the request goes to, e.g. registry-1.docker.io. */
  host: string;
  /** Repository path, e.g. library/alpine. */
  repository: string;
}

export interface UpstreamAuth {
  /** Headers to send with a request in this scope ({} for anonymous). */
  headers(scope: AuthScope): Promise<Record<string, string>>;
  /**
   * Called with the WWW-Authenticate header of a 401 and the Authorization
   * the refused request carried (undefined when none). True when other
   * credentials were obtained and the request is worth one retry.
   */
  challenge(scope: AuthScope, wwwAuthenticate: string, sentAuthorization?: string): Promise<boolean>;
}

export const anonymousAuth: UpstreamAuth = {
  headers: async () => ({}),
  challenge: async () => false,
};
