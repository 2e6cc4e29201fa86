import { unaryCall } from "../../../shared/grpc/client.ts";
import { bigintOption, stringOption, UsageError, type Command } from "../command.ts";

export const del: Command = {
  name: "delete",
  synopsis: "ID [--expected-revision N]",
  summary: "remove the spec of a workspace",
  options: { "expected-revision": { type: "string" } },
  async run(input) {
    const [id, ...extra] = input.args;
    if (id === undefined || extra.length > 0) throw new UsageError("delete takes exactly one workspace id");
    const expectedRevision = bigintOption("expected-revision", stringOption(input.values, "expected-revision"));
    const client = await input.client();
    const { revision } = await unaryCall(client.deleteSpec.bind(client), { id, expectedRevision }, { deadline: input.deadline() }, input.signal);
    input.out(input.json ? JSON.stringify({ id, revision: revision.toString() }) : `deleted ${id} (was revision ${revision})`);
  },
};
