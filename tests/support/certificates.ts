import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/**
 * A test CA (ca.crt, ca.key) in dir and certificates it signs: NAME.crt and
 * NAME.key for each name, with CN=NAME; server certificates are valid for
 * 127.0.0.1, client certificates carry NAME as a DNS subjectAltName too.
 */
export async function makeCertificates(dir: string, names: { servers?: string[]; clients?: string[] }): Promise<void> {
  const openssl = (...args: string[]) => exec("openssl", args, { cwd: dir });
  await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=facade-test-ca");
  const sign = async (name: string, san: string) => {
    await writeFile(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    await openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    await openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`);
  };
  for (const name of names.servers ?? []) await sign(name, "IP:127.0.0.1");
  for (const name of names.clients ?? []) await sign(name, `DNS:${name}`);
}
