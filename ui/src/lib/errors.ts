// What IoT Hub's error codes mean, in one sentence each, for errors shown
// inline. The hub sends its own explanation too; this covers the codes a
// user meets most, with what to do next.

export const CODE_HELP: Record<number, string> = {
  400004: "Something in the request is invalid; the message says what.",
  400027: "The device connected again elsewhere, which closed this connection.",
  401003: "The token is missing, wrong or expired.",
  403004: "The device's queue is full: purge it, or let the device take its messages.",
  403009: "The expiry time is in the past or beyond the hub's maximum TTL.",
  403800: "Too many method calls are already waiting on this device.",
  404001: "No device with this id is registered.",
  404103: "The device was not online (connected and listening for methods) within the connect timeout.",
  404104: "The device's connection closed while the call was in progress.",
  409001: "A device with this id already exists.",
  412001: "Someone else changed it first; reload and try again.",
  412002: "The lock token is unknown or its lock expired: the message was released.",
  413001: "The message or payload is larger than the hub allows.",
  500001: "The hub failed internally; the trace and the hub's log say more.",
  502001: "The device answered with a body that is not JSON.",
  504101: "The device did not answer within the response timeout: it got the call but sent no response.",
};

/** One sentence for an error code, falling back to the hub's explanation. */
export function explain(code: number | null, fallback: string): string {
  return (code !== null && CODE_HELP[code]) || fallback;
}
