/* cfutures.h: concurrent.futures for C. Include this one header.
 * See doc/ for the tutorial and the API reference. */
#ifndef CFUTURES_H
#define CFUTURES_H

#include "cfutures/common.h"
#include "cfutures/error.h"
#include "cfutures/value.h"
#include "cfutures/task.h"
#include "cfutures/future.h"
#include "cfutures/wait.h"
#include "cfutures/executor.h"
#include "cfutures/thread_pool.h"
#include "cfutures/process_pool.h"
#include "cfutures/map.h"
#include "cfutures/shared_memory.h"
#include "cfutures/queue.h"
#include "cfutures/process.h"
#include "cfutures/pipe.h"
#include "cfutures/sync.h"
#include "cfutures/shared_value.h"
#include "cfutures/subprocess.h"
#include "cfutures/shared_dict.h"

#endif
