/**
 * @module
 * The client messages a session answers, one handler per message type: a new client message is
 * one parser entry (protocol.ts) and one handler here. Each handler applies its message to the
 * session and, when the message carried a `ref`, writes the reply.
 */

import type { ClientMessage, Ref } from "../protocol.ts";
import { renderJoinReply, renderPublishReply, renderReply } from "../protocol.ts";
import type { Session } from "./session.ts";

/** Answers one message of type `T`. */
type Handler<T extends ClientMessage["type"]> = (
  session: Session,
  message: Extract<ClientMessage, { type: T }>,
) => Promise<void>;

/** Every client message type's handler. */
const HANDLERS: { readonly [T in ClientMessage["type"]]: Handler<T> } = {
  auth: async (session, { token, ref }) => reply(session, ref, await session.authenticate(token)),
  channels: (session, message) =>
    session.join(message, (outcome) => {
      if (message.ref === undefined) return;
      if ("error" in outcome) return reply(session, message.ref, outcome.error);
      const states = session.context.history === null ? null : outcome.resume.states;
      session.write(
        states === null && outcome.members.size === 0
          ? renderReply(message.ref)
          : renderJoinReply(message.ref, states, {
            members: outcome.members,
            isOneChannel: new Set(message.join).size === 1,
          }),
      );
    }),
  publish: async (session, { channel, payload, ref }) => {
    const outcome = await session.publish(channel, payload);
    if (ref === undefined) return;
    if ("error" in outcome) return reply(session, ref, outcome.error);
    session.write(
      outcome.offset === undefined ? renderReply(ref) : renderPublishReply(ref, outcome.offset),
    );
  },
};

/** Applies `message` to `session` through its type's handler. */
export function handleMessage(session: Session, message: ClientMessage): Promise<void> {
  return (HANDLERS[message.type] as Handler<ClientMessage["type"]>)(session, message as never);
}

/** Writes the reply to a message that carried `ref`: ok, or `error`. */
export function reply(session: Session, ref: Ref | undefined, error?: string): void {
  if (ref !== undefined) session.write(renderReply(ref, error));
}
