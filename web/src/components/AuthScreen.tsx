import { type FormEvent, useState } from "react";
import type { User } from "../api/types";
import { signIn, signUp } from "../session";

export function AuthScreen({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  const [mode, setMode] = useState<"in" | "up">("in");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    setBusy(true);
    setError(null);
    try {
      onSignedIn(mode === "up" ? await signUp(email, password) : await signIn(email, password));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  const title = mode === "up" ? "Create your account" : "Sign in";
  return (
    <main className="auth">
      <h1>todo</h1>
      <form onSubmit={submit} aria-labelledby="auth-title">
        <h2 id="auth-title">{title}</h2>
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            minLength={mode === "up" ? 8 : 1}
            autoComplete={mode === "up" ? "new-password" : "current-password"}
            required
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {mode === "up" ? "Sign up" : "Sign in"}
        </button>
        <button type="button" className="link" onClick={() => setMode(mode === "up" ? "in" : "up")}>
          {mode === "up" ? "I have an account: sign in" : "New here? Create an account"}
        </button>
      </form>
    </main>
  );
}
