/**
 * Set by the entry worker on every request it hands to the exchange object (a client's value
 * is replaced): when the request reached the simulator, before it queued for the exchange.
 */
export const RECEIVED_AT_HEADER = "x-sim-received-at";
