import { status as Code, type ServiceError } from "@grpc/grpc-js";
import type { WatchSpecsResponse } from "../../../../gen/facade/manage/v1/manage.ts";
import { UsageError, type Command } from "../command.ts";
import { describeEvent, eventJson } from "../format.ts";

export const watch: Command = {
  name: "watch",
  synopsis: "[--initial]",
  summary: "print every change until interrupted (--initial: the current specs first)",
  options: { initial: { type: "boolean", default: false } },
  async run(input) {
    if (input.args.length > 0) throw new UsageError("watch takes no arguments");
    const client = await input.client();
    const stream = client.watchSpecs({ includeInitial: input.values.initial === true });
    const stop = () => stream.cancel();
    input.signal.addEventListener("abort", stop, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        stream.on("data", (response: WatchSpecsResponse) => {
          const event = response.event!;
          input.out(input.json ? JSON.stringify(eventJson(event)) : describeEvent(event));
        });
        // Our own cancel (on interrupt) is the normal end of a watch.
        stream.on("error", (err: ServiceError) => (err.code === Code.CANCELLED && input.signal.aborted ? resolve() : reject(err)));
        stream.on("end", () => resolve());
      });
    } finally {
      input.signal.removeEventListener("abort", stop);
    }
  },
};
