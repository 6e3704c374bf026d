/** Profile tuning spread over BullMQ jobs on Redis: the coordinator, the workers, and run status. */
export { tuneOnQueue, type CoordinatorEvent, type QueueTimings, type QueueTuneOptions } from './coordinator.js';
export { startTuneWorker, type TuneWorker, type TuneWorkerOptions, type WorkerEvent } from './worker.js';
export { queueStatus, type RoundStatus, type RunStatus, type ShardJobStatus } from './status.js';
export { TUNE_QUEUE } from './jobs.js';
export { QueueStoreError, TuneStore, type RunSpec } from './store.js';
