/**
 * Handlers per message type, keyed by a discriminant field (`type` by default): `on('chat', handler)`.
 */
export type MessageHandler<M> = (message: M) => void;

/** The member of union `M` whose discriminant `K` is `T`. */
export type MessageOfType<M, K extends PropertyKey, T> = M extends Record<K, T> ? M : never;

export class MessageRouter<M> {
  readonly #field: string;
  #handlers = new Map<unknown, Array<{ handler: MessageHandler<never>; once: boolean }>>();

  constructor(field: string) {
    this.#field = field;
  }

  get size(): number {
    return this.#handlers.size;
  }

  on(type: unknown, handler: MessageHandler<never>, once = false): void {
    const list = this.#handlers.get(type) ?? [];
    this.#handlers.set(type, [...list, { handler, once }]);
  }

  off(type: unknown, handler: MessageHandler<never>): void {
    const list = this.#handlers.get(type);
    if (!list) return;
    const next = list.filter((entry) => entry.handler !== handler);
    if (next.length === 0) this.#handlers.delete(type);
    else this.#handlers.set(type, next);
  }

  /** Hands the message to the handlers of its type; returns whether any ran. */
  route(message: M): boolean {
    if (this.#handlers.size === 0 || typeof message !== 'object' || message === null) return false;
    const type = (message as Record<string, unknown>)[this.#field];
    const list = this.#handlers.get(type);
    if (!list) return false;
    for (const entry of list) {
      if (entry.once) this.off(type, entry.handler);
      try {
        (entry.handler as MessageHandler<M>)(message);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    return true;
  }
}
