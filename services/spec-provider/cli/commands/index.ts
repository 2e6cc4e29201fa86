import type { Command } from "../command.ts";
import { del } from "./delete.ts";
import { get } from "./get.ts";
import { list } from "./list.ts";
import { put } from "./put.ts";
import { setupContainerd } from "./setup-containerd.ts";
import { watch } from "./watch.ts";

/** Every facadectl subcommand, in the order help lists them. */
export const COMMANDS: readonly Command[] = [put, get, del, list, watch, setupContainerd];
