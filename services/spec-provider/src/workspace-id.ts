/**
 * A workspace id is the <id> of remote/<id>, so it must be a valid OCI
 * repository path component: lowercase letters and digits, separated by
 * ".", "_", "__" or runs of "-", starting and ending alphanumeric. That also
 * makes it a safe file name and a valid NATS KV key as it is.
 */
const WORKSPACE_ID = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const MAX_WORKSPACE_ID_LENGTH = 128;

/** Why id is not a workspace id, or undefined when it is one. */
export function workspaceIdProblem(id: string): string | undefined {
  if (id.length === 0) return "required";
  if (id.length > MAX_WORKSPACE_ID_LENGTH) return `at most ${MAX_WORKSPACE_ID_LENGTH} characters, got ${id.length}`;
  if (!WORKSPACE_ID.test(id)) {
    return "must be lowercase letters and digits separated by '.', '_', '__' or '-', starting and ending with a letter or digit";
  }
  return undefined;
}

/** For stores, which build paths and keys from ids: the RPC layer has validated already, so a bad id here is a bug. */
export function assertWorkspaceId(id: string): void {
  const problem = workspaceIdProblem(id);
  if (problem !== undefined) throw new Error(`bug: invalid workspace id ${JSON.stringify(id)} reached the store: ${problem}`);
}
