/* co_thread_init and co_thread_cleanup on several threads, each running its
   own coroutines, and repeated on the main thread. */
#include <pcl.h>
#include <pthread.h>
#include <stdio.h>

enum { kStack = 64 * 1024, kThreads = 4 };

struct job {
  int first;
  long sum;
  int init_result;
  int main_is_current;
};

static void producer(void *data) {
  struct job *job = data;
  for (int i = job->first; i < job->first + 1000; ++i) {
    job->sum += i;
    co_resume();
  }
}

static void run_job(struct job *job) {
  coroutine_t co = co_create(producer, job, NULL, kStack);
  for (int i = 0; i < 1000; ++i) {
    co_call(co);
  }
  co_call(co); /* the producer returns */
}

static void *thread_main(void *data) {
  struct job *job = data;
  job->init_result = co_thread_init();
  coroutine_t main_co = co_current();
  run_job(job);
  job->main_is_current = co_current() == main_co;
  co_thread_cleanup();
  return NULL;
}

int main(void) {
  for (int round = 0; round < 2; ++round) {
    printf("main thread init: %d\n", co_thread_init());
    struct job job = {round * 1000, 0, 0, 0};
    run_job(&job);
    printf("main thread round %d: sum %ld\n", round, job.sum);
    co_thread_cleanup();
  }
  pthread_t threads[kThreads];
  struct job jobs[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    jobs[i] = (struct job){i * 1000, 0, -1, 0};
    pthread_create(&threads[i], NULL, thread_main, &jobs[i]);
  }
  for (int i = 0; i < kThreads; ++i) {
    pthread_join(threads[i], NULL);
    printf("thread %d: init %d, sum %ld, back on its main coroutine: %d\n", i, jobs[i].init_result,
           jobs[i].sum, jobs[i].main_is_current);
  }
  printf("threads: end\n");
  return 0;
}
