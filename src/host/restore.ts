/**
 * The session restore: `onEveryOpen` hooks (joins, subscriptions, `conn.subscribe`) run on every open, before the
 * queue is flushed and before anything an `open` listener sends. Made on the first hook: most connections have none.
 */
export class RestoreHooks {
  #hooks: Array<() => void> = [];

  /** Adds `hook` (run now too if `open`); returns the function that removes it. */
  add(hook: () => void, open: boolean): () => void {
    this.#hooks = [...this.#hooks, hook];
    if (open) run(hook);
    return () => {
      this.#hooks = this.#hooks.filter((h) => h !== hook);
    };
  }

  /** Runs every hook, in the order they were added. */
  runAll(): void {
    for (const hook of this.#hooks) run(hook);
  }
}

/** A hook that throws must not stop the open sequence: its error surfaces on its own, as an uncaught one. */
function run(hook: () => void): void {
  try {
    hook();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
