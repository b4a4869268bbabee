// Typed calls for every endpoint the UI uses. Types are generated from the
// API's Rust DTOs (ts-rs), so a change on either side fails the type check.

import type { TwinDoc } from "../logic/twin";
import { type HubClient, seg } from "./client";
import type { BindBoardRequest } from "./generated/BindBoardRequest";
import type { BoardStatus } from "./generated/BoardStatus";
import type { ConnectionStringDto } from "./generated/ConnectionStringDto";
import type { ConsoleLine } from "./generated/ConsoleLine";
import type { DeviceDto } from "./generated/DeviceDto";
import type { FeedbackRecordDto } from "./generated/FeedbackRecordDto";
import type { FleetRequestDto } from "./generated/FleetRequestDto";
import type { FleetStartedDto } from "./generated/FleetStartedDto";
import type { HubInfoDto } from "./generated/HubInfoDto";
import type { RulesDto } from "./generated/RulesDto";
import type { InvokeRequest } from "./generated/InvokeRequest";
import type { LibraryCommand } from "./generated/LibraryCommand";
import type { MessageDto } from "./generated/MessageDto";
import type { MethodResultDto } from "./generated/MethodResultDto";
import type { ModuleDto } from "./generated/ModuleDto";
import type { NewModuleRequest } from "./generated/NewModuleRequest";
import type { NewDeviceRequest } from "./generated/NewDeviceRequest";
import type { PortInfo } from "./generated/PortInfo";
import type { ProfileDto } from "./generated/ProfileDto";
import type { PurgeResultDto } from "./generated/PurgeResultDto";
import type { SendMessageRequest } from "./generated/SendMessageRequest";
import type { SerialSendRequest } from "./generated/SerialSendRequest";
import type { SettingsDto } from "./generated/SettingsDto";
import type { ScenarioFolderDto } from "./generated/ScenarioFolderDto";
import type { ScenarioRunRequest } from "./generated/ScenarioRunRequest";
import type { ScenarioRunStartedDto } from "./generated/ScenarioRunStartedDto";
import type { SimStatusDto } from "./generated/SimStatusDto";
import type { TestRunDto } from "./generated/TestRunDto";
import type { TraceDiff } from "./generated/TraceDiff";
import type { TraceEventDto } from "./generated/TraceEventDto";

/** Filters of `/api/trace` (and its stream and export). */
export interface TraceParams {
  deviceId?: string;
  /** Comma-separated kinds or families (`c2d,method.timed_out`). */
  kind?: string;
  since?: string;
  until?: string;
  correlation?: string;
  text?: string;
  afterId?: number;
  beforeId?: number;
  limit?: number;
  newestFirst?: boolean;
}

export function hubApi(c: HubClient) {
  const dev = (id: string) => `/api/devices/${seg(id)}`;
  const board = (id: string) => `/api/serial/boards/${seg(id)}`;
  return {
    info: () => c.get<HubInfoDto>("/api/hub"),
    settings: () => c.get<SettingsDto>("/api/settings"),
    rules: () => c.get<RulesDto>("/api/rules"),
    saveSettings: (s: Partial<SettingsDto>) => c.put<SettingsDto>("/api/settings", s),
    /** The CA certificate (PEM). */
    ca: () => c.file("/api/ca"),
    serviceConnectionString: () => c.get<ConnectionStringDto>("/api/connection-string/service"),
    /** For the Event Hubs SDKs' consumers (`Endpoint=sb://…;EntityPath=…`). */
    eventsConnectionString: () => c.get<ConnectionStringDto>("/api/connection-string/events"),

    devices: (search?: string) => c.get<DeviceDto[]>("/api/devices", { search, limit: 10000 }),
    device: (id: string) => c.get<DeviceDto>(dev(id)),
    addDevice: (r: NewDeviceRequest) => c.post<DeviceDto>("/api/devices", r),
    setStatus: (id: string, status: "enabled" | "disabled") =>
      c.patch<DeviceDto>(dev(id), { status, statusReason: null }),
    deleteDevice: (id: string) => c.delete<void>(dev(id)),
    connectionString: (id: string) => c.get<ConnectionStringDto>(`${dev(id)}/connection-string`),

    modules: (id: string) => c.get<ModuleDto[]>(`${dev(id)}/modules`),
    addModule: (id: string, r: NewModuleRequest) => c.post<ModuleDto>(`${dev(id)}/modules`, r),
    deleteModule: (id: string, mid: string) => c.delete<void>(`${dev(id)}/modules/${seg(mid)}`),
    moduleConnectionString: (id: string, mid: string) =>
      c.get<ConnectionStringDto>(`${dev(id)}/modules/${seg(mid)}/connection-string`),
    moduleTwin: (id: string, mid: string) => c.get<TwinDoc>(`${dev(id)}/modules/${seg(mid)}/twin`),

    messages: (id: string) => c.get<MessageDto[]>(`${dev(id)}/messages`),
    send: (id: string, r: SendMessageRequest) => c.post<MessageDto>(`${dev(id)}/messages`, r),
    purge: (id: string) => c.delete<PurgeResultDto>(`${dev(id)}/messages`),

    invoke: (id: string, r: InvokeRequest) => c.post<MethodResultDto>(`${dev(id)}/methods`, r),

    /** IoT Hub's query language over the twins (first page of up to 1000 rows). */
    query: (sql: string) =>
      c.request<Record<string, unknown>[]>("POST", "/api/query", { query: sql }, undefined, { "x-ms-max-item-count": "1000" }),
    twin: (id: string) => c.get<TwinDoc>(`${dev(id)}/twin`),
    /** Merges `patch` (`{"properties": {"desired": …}, "tags": …}`) if the twin's etag is still `etag`. */
    patchTwin: (id: string, patch: unknown, etag: string) =>
      c.request<TwinDoc>("PATCH", `${dev(id)}/twin`, patch, undefined, { "if-match": `"${etag}"` }),

    feedback: (q: { deviceId?: string; afterId?: number; limit?: number } = {}) =>
      c.get<FeedbackRecordDto[]>("/api/feedback", { ...q }),

    trace: (q: TraceParams) => c.get<TraceEventDto[]>("/api/trace", { ...q }),
    story: (key: string) => c.get<TraceEventDto[]>(`/api/trace/story/${seg(key)}`),
    /** Two stretches of the trace compared step by step. */
    traceDiff: (q: {
      aAfterId: number;
      aBeforeId: number;
      aDeviceId?: string;
      bAfterId: number;
      bBeforeId: number;
      bDeviceId?: string;
    }) => c.get<TraceDiff>("/api/trace/diff", { ...q }),
    traceStreamUrl: (q: TraceParams) => c.authedUrl("/api/trace/stream", { ...q }),
    /** The matching events as a JSON Lines or CSV file. */
    traceExport: (q: TraceParams & { format: "jsonl" | "csv" }) => c.file("/api/trace/export", { ...q }),

    profiles: () => c.get<ProfileDto[]>("/api/sim/profiles"),
    saveProfile: (name: string, toml: string) => c.put<ProfileDto>(`/api/sim/profiles/${seg(name)}`, { toml }),
    deleteProfile: (name: string) => c.delete<void>(`/api/sim/profiles/${seg(name)}`),
    simDevices: () => c.get<SimStatusDto[]>("/api/sim/devices"),
    startFleet: (r: FleetRequestDto) => c.post<FleetStartedDto>("/api/sim/fleets", r),
    stopSim: (id: string) => c.delete<void>(`/api/sim/devices/${seg(id)}`),
    stopAllSims: () => c.delete<{ stopped: number }>("/api/sim/devices"),

    /** The hub's command library (saved method calls and C2D messages). */
    commands: () => c.get<LibraryCommand[]>("/api/commands"),
    saveCommand: (cmd: LibraryCommand) => c.put<LibraryCommand>(`/api/commands/${seg(cmd.name)}`, cmd),
    deleteCommand: (name: string) => c.delete<void>(`/api/commands/${seg(name)}`),
    /** The command on `device`, its variables filled in (its defaults unless given). */
    renderCommand: (name: string, device: string, vars: Record<string, unknown> = {}) =>
      c.post<LibraryCommand>(`/api/commands/${seg(name)}/render`, { device, vars }),

    /** The scenario files of a folder (default: the data directory's `scenarios`). */
    scenarios: (dir?: string) => c.get<ScenarioFolderDto>("/api/scenarios", { dir: dir || undefined }),
    /** Runs scenarios in the hub; follow the batch with `testRuns`. */
    runScenarios: (r: ScenarioRunRequest) => c.post<ScenarioRunStartedDto>("/api/scenarios/runs", r),
    testRuns: (q: { batch?: string; beforeId?: number; limit?: number } = {}) =>
      c.get<TestRunDto[]>("/api/test-runs", { ...q }),

    ports: () => c.get<PortInfo[]>("/api/serial/ports"),
    boards: () => c.get<BoardStatus[]>("/api/serial/boards"),
    bindBoard: (r: BindBoardRequest) => c.post<BoardStatus>("/api/serial/boards", r),
    unbindBoard: (id: string) => c.delete<void>(board(id)),
    releaseBoard: (id: string) => c.post<BoardStatus>(`${board(id)}/release`),
    reclaimBoard: (id: string) => c.post<BoardStatus>(`${board(id)}/reclaim`),
    resetBoard: (id: string) => c.post<void>(`${board(id)}/reset`),
    sendToBoard: (id: string, r: SerialSendRequest) => c.post<void>(`${board(id)}/send`, r),
    console: (id: string, tail?: number) => c.get<ConsoleLine[]>(`${board(id)}/console`, { tail }),
  };
}

export type HubApi = ReturnType<typeof hubApi>;
