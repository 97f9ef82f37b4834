import { useEffect, useRef, useState } from "react";
import { ApiError, request } from "../api/http";
import type { Notification, NotificationPage, Snooze } from "../api/types";
import { useWatched } from "../hooks";
import type { Workspace } from "../sync/workspace";
import { relativeDue, tomorrowMorning } from "../time";

export function NotificationBell({ workspace, timeZone }: { workspace: Workspace; timeZone: string }) {
  const unread = useWatched(workspace.unread);
  const [open, setOpen] = useState(false);
  const label = unread === 0 ? "Notifications" : `Notifications: ${unread} unread`;
  return (
    <>
      <button type="button" className="bell" aria-label={label} title={label} onClick={() => setOpen(true)}>
        <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18" fill="currentColor">
          <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z" />
        </svg>
        {unread > 0 && (
          <span className="badge" data-testid="unread">
            {unread >= 100 ? "99+" : unread}
          </span>
        )}
      </button>
      {open && <Notifications workspace={workspace} timeZone={timeZone} onClose={() => setOpen(false)} />}
    </>
  );
}

function Notifications({ workspace, timeZone, onClose }: { workspace: Workspace; timeZone: string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [items, setItems] = useState<Notification[] | null>(null);

  useEffect(() => {
    dialog.current?.showModal();
    request<NotificationPage>("GET", "/api/notifications?limit=20")
      .then(({ data }) => setItems(data.items))
      .catch(() => setItems([]));
  }, []);

  return (
    <dialog ref={dialog} onClose={onClose} aria-labelledby="notifications-title">
      <h2 id="notifications-title">Notifications</h2>
      {items === null ? (
        <p>Loading…</p>
      ) : items.length === 0 ? (
        <p>Nothing yet. Reminders you add to tasks show up here when they come due.</p>
      ) : (
        <ul className="notifications">
          {items.map((n) => (
            <li key={n.id} className={n.read_at ? undefined : "unread"}>
              <strong>{n.title}</strong>
              {n.body && <span> {n.body}</span>}
              <time dateTime={n.created_at}> {relativeDue(n.created_at, new Date(), timeZone)}</time>
              {n.reminder_id && <SnoozeButtons notification={n} workspace={workspace} timeZone={timeZone} />}
            </li>
          ))}
        </ul>
      )}
      <div className="actions">
        <button type="button" onClick={() => void workspace.readAllNotifications().then(onClose)}>
          Mark all read
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}

/** Remind again later: in 10 minutes, in an hour, or tomorrow at 09:00 in the user's zone. */
function SnoozeButtons({
  notification,
  workspace,
  timeZone,
}: {
  notification: Notification;
  workspace: Workspace;
  timeZone: string;
}) {
  const [outcome, setOutcome] = useState<string | null>(null);
  const choices: [string, () => Snooze][] = [
    ["10 minutes", () => ({ minutes: 10 })],
    ["1 hour", () => ({ minutes: 60 })],
    ["Tomorrow 09:00", () => ({ until: tomorrowMorning(new Date(), timeZone) })],
  ];

  async function snooze(later: Snooze) {
    try {
      const at = await workspace.snooze(notification, later);
      setOutcome(`Snoozed until ${relativeDue(at, new Date(), timeZone)}`);
    } catch (error) {
      const gone = error instanceof ApiError && error.status === 404;
      setOutcome(gone ? "This reminder no longer exists." : "Could not snooze: try again when online.");
    }
  }

  if (outcome) return <p className="snoozed" role="status">{outcome}</p>;
  return (
    <div className="snooze" role="group" aria-label={`Snooze “${notification.title}”`}>
      Snooze:
      {choices.map(([label, later]) => (
        <button key={label} type="button" onClick={() => void snooze(later())}>
          {label}
        </button>
      ))}
    </div>
  );
}
