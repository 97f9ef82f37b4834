import { useWatched } from "../hooks";
import type { Workspace } from "../sync/workspace";

export function NotificationBell({ workspace }: { workspace: Workspace }) {
  const unread = useWatched(workspace.unread);
  const label = unread === 0 ? "No unread notifications" : `${unread} unread notifications: mark read`;
  return (
    <button
      type="button"
      className="bell"
      aria-label={label}
      title={label}
      onClick={() => void workspace.readAllNotifications()}
      disabled={unread === 0}
    >
      <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18" fill="currentColor">
        <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z" />
      </svg>
      {unread > 0 && (
        <span className="badge" data-testid="unread">
          {unread >= 100 ? "99+" : unread}
        </span>
      )}
    </button>
  );
}
