/**
 * @module
 * `channel.occupied` and `channel.vacated`: which channels gained their first subscriber, or
 * lost their last one for `--webhook-vacate-delay`, across the cluster. Each backend has one
 * (memory_occupancy.ts, redis_occupancy.ts); what it found goes to the webhooks' sink.
 */

/** Follows the channels from when it is made, telling the webhooks' sink when one becomes
 * occupied or vacated, until it is disposed. */
export type Occupancy = Disposable;
