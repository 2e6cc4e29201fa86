import { unaryCall } from "../../../shared/grpc/client.ts";
import { UsageError, type Command } from "../command.ts";
import { describeStoredSpec, storedSpecJson } from "../format.ts";

export const get: Command = {
  name: "get",
  synopsis: "ID",
  summary: "show the stored spec of a workspace",
  options: {},
  async run(input) {
    const [id, ...extra] = input.args;
    if (id === undefined || extra.length > 0) throw new UsageError("get takes exactly one workspace id");
    const client = await input.client();
    const { stored } = await unaryCall(client.getSpec.bind(client), { id }, { deadline: input.deadline() }, input.signal);
    input.out(input.json ? JSON.stringify(storedSpecJson(stored!)) : describeStoredSpec(stored!));
  },
};
