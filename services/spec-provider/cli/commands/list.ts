import type { StoredSpec } from "../../../../gen/facade/manage/v1/manage.ts";
import { unaryCall } from "../../../shared/grpc/client.ts";
import { UsageError, type Command } from "../command.ts";
import { describeTable, storedSpecJson } from "../format.ts";

const PAGE_SIZE = 500;

export const list: Command = {
  name: "list",
  synopsis: "",
  summary: "list every stored spec in id order",
  options: {},
  async run(input) {
    if (input.args.length > 0) throw new UsageError("list takes no arguments");
    const client = await input.client();
    const specs: StoredSpec[] = [];
    let pageToken = "";
    do {
      const page = await unaryCall(client.listSpecs.bind(client), { pageSize: PAGE_SIZE, pageToken }, { deadline: input.deadline() }, input.signal);
      specs.push(...page.specs);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    if (input.json) input.out(JSON.stringify(specs.map(storedSpecJson)));
    else input.out(specs.length === 0 ? "no specs" : describeTable(specs));
  },
};
