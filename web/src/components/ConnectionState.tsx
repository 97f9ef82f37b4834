import { useWatched } from "../hooks";
import type { Workspace } from "../sync/workspace";

const LABEL = { live: "Live", connecting: "Connecting…", offline: "Offline" } as const;

export function ConnectionState({ workspace }: { workspace: Workspace }) {
  const connection = useWatched(workspace.connection);
  const pending = useWatched(workspace.pending);
  return (
    <span className={`connection ${connection}`} role="status" data-testid="connection">
      {LABEL[connection]}
      {pending > 0 && ` · ${pending} to send`}
    </span>
  );
}
