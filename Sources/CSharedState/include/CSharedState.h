#ifndef CSHAREDSTATE_H
#define CSHAREDSTATE_H

/* The layout of the shared-memory segment all workers of one host map: the global queue of
 * expensive jobs, the service-time estimate, counters, histograms and one entry per worker.
 * Every field is read and written under `lock`, except the futex words (`generation`, each
 * job's `granted`), the relaxed counters marked so, and the header fields written once before
 * `ready` is set. Change the layout => bump the version.
 *
 * The queue is a ring in arrival order: ticket t lives in jobs[t % job_capacity]. Slots are
 * handed out in ticket order from `grant_ticket`; a job that leaves early (refused at its
 * deadline, or its worker died) is skipped there. Counts and the work waiting are kept as the
 * queue changes, so no decision scans the ring.
 *
 * Batches: a slot handed to a job may take up to `lanes` - 1 more waiting jobs of the same
 * process and cost with it (oldest first, within a bounded window of the ring), run together by
 * the multi-lane bcrypt core. The running entry counts the members not yet ended; each member's
 * job entry names the batch's first ticket. Passwords never enter the segment.
 *
 * Fair share: every job belongs to a client entry (`clients[]`, a fixed table with bounded
 * linear probing by a keyed hash). Entries are groups (an IPv4 /24, an IPv6 /48, a named end
 * user) and their leaves (an IPv4 address, an IPv6 /64); entry 0 is the overflow group that
 * newcomers share when the table has no room for them. Each entry keeps the work it has waiting
 * and running and the work it was admitted recently, decaying (2^cost per job, so that a cost-14
 * job is four cost-12 jobs), its waiting jobs as a list through the ring (oldest first), and its
 * own refusal budget. Entries with waiting jobs are
 * linked, so that finding whom to displace looks only at those.
 *
 * Job classes: a job's `cost` field is its class. 4..31 are bcrypt at that cost; 0..3 are the
 * argon2id parameter sets registered in `argon2_classes` (m, t; a set is reused once no job of it
 * waits or runs). bcrypt's service time is `unit_seconds` x 2^cost, argon2id's
 * `argon2_unit_seconds` x m x t: each learnt from its own jobs. A running job holds its class's
 * memory (argon2id's m; bcrypt's 4 KiB are not counted) out of `memory_budget_kib`. */

#include <pthread.h>
#include <stdint.h>

#pragma clang assume_nonnull begin

#define FL_SEGMENT_MAGIC 0x464c4f414445444dULL /* "FLOADEDM" */
#define FL_SEGMENT_VERSION 6u
#define FL_MAX_SLOTS 256u
#define FL_MAX_WORKERS 128u
#define FL_COST_CLASSES 32u
#define FL_HISTOGRAM_BUCKETS 16u
#define FL_RECENT_WAITS 512u
#define FL_MAX_CLIENTS 2048u /* client table entries, the overflow group included */
#define FL_CLIENT_PROBES 16u /* entries a key may live in: its hash's and the next 15 */
#define FL_OVERFLOW_CLIENT 0u
#define FL_MAX_BATCH 8u /* jobs one compute slot may run together as a batch */
#define FL_PROCESS_BUCKETS 64u /* waiting counts per process: a pid counts in bucket pid % this */
#define FL_ARGON2_CLASSES 4u   /* argon2id parameter sets in use at once: job classes 0..3 (bcrypt's are its costs, 4..31) */

enum fl_job_state { FL_JOB_FREE = 0, FL_JOB_QUEUED = 1, FL_JOB_RUNNING = 2 };
enum fl_job_signal { FL_JOB_WAITING = 0, FL_JOB_GRANTED = 1, FL_JOB_DISPLACED = 2 };
enum fl_worker_state { FL_WORKER_EMPTY = 0, FL_WORKER_SERVING = 1, FL_WORKER_STOPPING = 2 };

typedef struct {
    uint32_t state;
    uint32_t granted; /* futex word of the job's waiter: fl_job_signal (granted, or displaced) */
    int32_t pid;
    uint32_t cost;
    uint64_t ticket;     /* arrival order; 0: never used */
    int64_t arrival_ns;  /* when nginx received the request (CLOCK_MONOTONIC) */
    int64_t admitted_ns; /* when admission took it */
    int64_t started_ns;  /* when it got its slot */
    uint32_t running_slot; /* its entry in running[] while RUNNING */
    uint32_t client;       /* its entry in clients[] (a leaf, or a group that is its own leaf) */
    uint64_t client_previous; /* the client's waiting job before this one, by ticket; 0: none */
    uint64_t client_next;     /* the client's waiting job after this one; 0: none */
    uint64_t batch_head;      /* while RUNNING: the ticket of the batch's first job (its own when alone) */
    uint32_t batch_size;      /* while RUNNING: the jobs of its batch, itself included */
    uint32_t reserved;
} fl_job;

typedef struct {
    uint64_t ticket; /* 0: the slot is free */
    uint32_t cost;
    int32_t pid;
    int64_t started_ns;
    uint32_t lanes;        /* jobs of the batch that holds the slot (1: a job alone) */
    uint32_t members_left; /* of those, the ones not yet ended: the slot is free when none is left */
} fl_running;

typedef struct {
    int32_t pid;
    uint32_t state;
    int64_t started_ns;
    int64_t heartbeat_ns;
    uint64_t jobs_completed;
    uint64_t jobs_refused;
    uint32_t slot_restarts; /* how often this entry was taken over from a dead worker */
    uint32_t reserved;
    uint64_t pings; /* cheap requests answered; added to without the lock (relaxed atomic) */
} fl_worker;

typedef struct {
    uint64_t key;            /* keyed hash of the client's key; 0: never used */
    uint32_t parent;         /* its group's index; its own for a group */
    uint32_t kind;           /* what the key is (ClientKey.Kind) */
    uint32_t children;       /* a group's leaves */
    uint32_t active_leaves;  /* a group's entries with work, itself included */
    uint32_t queued;         /* its waiting jobs */
    uint32_t running;        /* its jobs holding a slot */
    uint64_t work;           /* 2^cost over its own waiting and running jobs */
    uint64_t group_work;     /* a group's: its own work and its leaves' */
    double recent_work;      /* work it was admitted recently (decaying; what its share is judged by) */
    double group_recent_work; /* a group's: its own recent work and its leaves' */
    int64_t recent_at_ns;    /* when the two were last brought up to date */
    uint64_t head;           /* its oldest waiting job's ticket; 0: none */
    uint64_t tail;           /* its newest waiting job's ticket; 0: none */
    int32_t waiting_previous; /* the list of entries with waiting jobs; -1: none */
    int32_t waiting_next;
    int64_t last_active_ns;
    int64_t refusal_tat_ns;  /* its own refusal budget (GCRA) */
    double served_seconds;   /* compute seconds it was given, decaying (half-life in ClientTable) */
    int64_t served_at_ns;
    uint64_t admitted;
    uint64_t refused_at_capacity;
    uint64_t refused_over_share;
    uint64_t displaced;
} fl_client;

typedef struct {
    uint32_t memory_kib; /* m; 0: the entry is free */
    uint32_t passes;     /* t */
    uint64_t fair_units; /* its work in the fair share's units (2^cost of bcrypt), fixed when registered */
} fl_argon2_class;

typedef struct {
    int64_t at_ns;   /* when the job got its slot */
    int64_t wait_ns; /* how long it had queued */
} fl_recent_wait;

typedef struct {
    uint64_t counts[FL_HISTOGRAM_BUCKETS]; /* bucket i: <= fl_histogram_bound_ms(i) */
    uint64_t total;
    int64_t sum_ns;
    int64_t max_ns;
} fl_histogram;

typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t ready;
    uint64_t size;         /* bytes, jobs[] included */
    uint32_t job_capacity; /* entries in jobs[] */
    uint32_t generation;   /* futex word: bumped when a job ends or leaves (for anyone watching) */
    pthread_mutex_t lock;

    uint32_t slots;
    uint32_t lanes; /* the most jobs the workers run together in one slot (1: no batches) */
    int64_t deadline_ns;
    double unit_seconds; /* estimated seconds a job holds a slot at cost 0: service(cost) = unit * 2^cost */
    uint64_t estimate_samples;
    double batch_factor[FL_MAX_BATCH + 1];       /* a batch of k holds a slot batch_factor[k] x one job's time; 0: not learnt */
    uint64_t batch_samples[FL_MAX_BATCH + 1];

    uint64_t next_ticket;  /* the ticket the next admitted job gets */
    uint64_t grant_ticket; /* slots go to waiting tickets in order from here */
    uint32_t running_count;
    uint32_t queued_count;
    uint32_t queued_by_cost[FL_COST_CLASSES]; /* waiting jobs per bcrypt cost */
    /* waiting jobs per process (bucket pid % FL_PROCESS_BUCKETS) and cost: batches form within
     * one process, so the queue drains in batches per process, not per cost alone */
    uint16_t queued_by_process[FL_PROCESS_BUCKETS][FL_COST_CLASSES];
    fl_running running[FL_MAX_SLOTS];

    fl_argon2_class argon2_classes[FL_ARGON2_CLASSES];
    double argon2_unit_seconds;   /* seconds of argon2id per KiB and pass: service = unit x m x t */
    uint64_t argon2_samples;
    uint64_t memory_budget_kib;   /* the most memory running jobs may hold together; 0: no bound */
    uint64_t memory_in_use_kib;   /* what running jobs hold now */
    uint64_t completed_argon2;    /* of `completed`, the argon2id jobs */
    /* the share of the hashing between job classes: each class's recently admitted work
     * (decaying alike, as of class_recent_at_ns) and when a job of it was last refused at capacity */
    double class_recent[FL_COST_CLASSES];
    int64_t class_recent_at_ns;
    int64_t class_refused_ns[FL_COST_CLASSES];

    uint64_t admitted;
    uint64_t refused_at_once;
    uint64_t refused_at_deadline;
    uint64_t completed;
    uint64_t failed;
    uint64_t overran; /* running at their deadline: answered 503 at N, result dropped */
    uint64_t recovered_jobs; /* jobs freed after their worker died */
    int64_t last_sweep_ns;
    int64_t refusal_tat_ns; /* GCRA: the theoretical time the next paced refusal may leave */
    uint64_t paced_refusals; /* refusals held back by the refusal budget */
    uint64_t late_arrivals;  /* refused at once because they had waited before reaching a worker */

    fl_histogram queue_wait;
    fl_histogram service_time;
    fl_histogram response_time; /* arrival to answer, jobs that ran and were answered with their result */

    uint64_t refused_over_share; /* refused at arrival: the client was over its fair share */
    uint64_t displaced;          /* admitted, then displaced by a client under its share */
    uint64_t key_overflows;      /* keys that found no room in the client table */

    uint64_t key_seed;           /* the client table's hash key, random, written once at creation */
    uint64_t total_work;         /* 2^cost over every waiting and running job that has a client */
    uint32_t active_groups;      /* groups with work */
    int32_t waiting_clients;     /* first entry of the list of entries with waiting jobs; -1: none */
    double active_recent_work;   /* the recent work of the groups with work, together */
    int64_t active_recent_at_ns;
    double served_total;         /* every entry's served_seconds together, decaying alike */
    int64_t served_total_at_ns;
    fl_client clients[FL_MAX_CLIENTS];

    uint32_t recent_next; /* the ring's next write position */
    uint32_t reserved2;
    fl_recent_wait recent_waits[FL_RECENT_WAITS]; /* the latest queue waits, for percentiles over the last second */

    fl_worker workers[FL_MAX_WORKERS];
    fl_job jobs[]; /* job_capacity entries */
} fl_segment;

/** Initialises a fresh segment's lock as process-shared and robust. Returns 0 or an error number. */
int fl_segment_init_lock(fl_segment *segment);

/** Locks the segment. Returns 0, or 1 when the previous owner died holding it (the lock is made
 *  consistent; the caller should sweep), or an error number. */
int fl_segment_lock(fl_segment *segment);

/** Unlocks the segment. */
void fl_segment_unlock(fl_segment *segment);

/** Sleeps while *word == expected, at most timeout_ns. Returns 0, or -1 with errno (ETIMEDOUT,
 *  EAGAIN when the word had already changed, EINTR). The word is shared between processes. */
int fl_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

/** Fills *seed from the kernel's random source. Returns 0, or -1 with errno. */
int fl_random_seed(uint64_t *seed);

/** Wakes at most `count` threads of any process sleeping on word. */
int fl_futex_wake(uint32_t *word, int32_t count);

/** Accessors: Swift sees C arrays as tuples. The job ring's capacity is the one checked when the
 *  segment was mapped, never the field as it reads now: another process could have set that to 0
 *  or past the mapping. */
static inline fl_job *fl_segment_job(fl_segment *segment, uint64_t ticket, uint32_t capacity) {
    return &segment->jobs[ticket % capacity];
}
static inline fl_running *fl_segment_running(fl_segment *segment, uint32_t index) { return &segment->running[index]; }
static inline uint32_t *fl_segment_queued_by_cost(fl_segment *segment, uint32_t cost) {
    return &segment->queued_by_cost[cost % FL_COST_CLASSES];
}
static inline uint16_t *fl_segment_queued_by_process(fl_segment *segment, uint32_t bucket, uint32_t cost) {
    return &segment->queued_by_process[bucket % FL_PROCESS_BUCKETS][cost % FL_COST_CLASSES];
}
static inline fl_argon2_class *fl_segment_argon2_class(fl_segment *segment, uint32_t index) {
    return &segment->argon2_classes[index % FL_ARGON2_CLASSES];
}
static inline double *fl_segment_class_recent(fl_segment *segment, uint32_t index) {
    return &segment->class_recent[index % FL_COST_CLASSES];
}
static inline int64_t *fl_segment_class_refused(fl_segment *segment, uint32_t index) {
    return &segment->class_refused_ns[index % FL_COST_CLASSES];
}
static inline fl_client *fl_segment_client(fl_segment *segment, uint32_t index) {
    return &segment->clients[index % FL_MAX_CLIENTS];
}
static inline fl_worker *fl_segment_worker(fl_segment *segment, uint32_t index) { return &segment->workers[index]; }
static inline fl_recent_wait *fl_segment_recent_wait(fl_segment *segment, uint32_t index) {
    return &segment->recent_waits[index % FL_RECENT_WAITS];
}
static inline double *fl_segment_batch_factor(fl_segment *segment, uint32_t lanes) {
    return &segment->batch_factor[lanes % (FL_MAX_BATCH + 1)];
}
static inline uint64_t *fl_segment_batch_samples(fl_segment *segment, uint32_t lanes) {
    return &segment->batch_samples[lanes % (FL_MAX_BATCH + 1)];
}
static inline uint64_t *fl_histogram_count(fl_histogram *histogram, uint32_t index) { return &histogram->counts[index]; }
static inline uint32_t *fl_segment_generation(fl_segment *segment) { return &segment->generation; }
static inline uint32_t *fl_segment_granted(fl_segment *segment, uint64_t ticket, uint32_t capacity) {
    return &fl_segment_job(segment, ticket, capacity)->granted;
}
static inline uint64_t *fl_segment_worker_pings(fl_segment *segment, uint32_t index) {
    return &segment->workers[index % FL_MAX_WORKERS].pings;
}
static inline uint64_t fl_segment_size(uint32_t job_capacity) {
    return (uint64_t)sizeof(fl_segment) + (uint64_t)job_capacity * sizeof(fl_job);
}

/** Atomic access to the futex words and the ready flag. */
static inline uint32_t fl_load_acquire(const uint32_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
static inline void fl_store_release(uint32_t *word, uint32_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }
static inline void fl_increment(uint32_t *word) { __atomic_add_fetch(word, 1, __ATOMIC_ACQ_REL); }
static inline void fl_count(uint64_t *counter) { __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED); }
static inline uint64_t fl_load_count(const uint64_t *counter) { return __atomic_load_n(counter, __ATOMIC_RELAXED); }

#pragma clang assume_nonnull end

#endif
