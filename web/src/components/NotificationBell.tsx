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
      <span aria-hidden="true">🔔</span>
      {unread > 0 && (
        <span className="badge" data-testid="unread">
          {unread >= 100 ? "99+" : unread}
        </span>
      )}
    </button>
  );
}
