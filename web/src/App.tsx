import { useEffect, useState } from "react";
import type { User } from "./api/types";
import { AuthScreen } from "./components/AuthScreen";
import { TaskScreen } from "./components/TaskScreen";
import { resume, signOut } from "./session";

// Who last signed in on this device (no secret: the tokens are elsewhere), so the app can
// open offline.
const LAST_USER = "todo-user";

function lastUser(): User | null {
  const saved = localStorage.getItem(LAST_USER);
  return saved ? (JSON.parse(saved) as User) : null;
}

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);

  useEffect(() => {
    resume()
      .then(remember)
      // No network: the last user's list, as this device last saw it.
      .catch(() => setUser(lastUser()));
  }, []);

  // Signed out in another tab: this one lets go of the account's data too, so that the
  // device copy can be deleted, and opens on the sign-in screen.
  useEffect(() => {
    const signedOutElsewhere = (event: StorageEvent) => {
      if (event.key === LAST_USER && event.newValue === null) location.reload();
    };
    addEventListener("storage", signedOutElsewhere);
    return () => removeEventListener("storage", signedOutElsewhere);
  }, []);

  function remember(signedIn: User | null) {
    if (signedIn) localStorage.setItem(LAST_USER, JSON.stringify(signedIn));
    else localStorage.removeItem(LAST_USER);
    setUser(signedIn);
  }

  if (user === undefined) return <p className="loading">Loading…</p>;
  if (user === null) return <AuthScreen onSignedIn={remember} />;
  return (
    <TaskScreen
      user={user}
      onUser={remember}
      onSignOut={() => void signOut().finally(() => remember(null))}
    />
  );
}
