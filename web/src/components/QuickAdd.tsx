import { type FormEvent, forwardRef, useEffect, useState } from "react";
import { request } from "../api/http";
import type { ParsedTask, Part } from "../api/types";
import { relativeDue } from "../time";

const PARSE_DELAY_MS = 150;

interface Props {
  timeZone: string;
  onAdd: (text: string) => void;
}

/** One line as a person types it; the server reads it (POST /api/tasks/parse) and the
 * recognised parts are highlighted, with the fields they give, before saving. */
export const QuickAdd = forwardRef<HTMLInputElement, Props>(function QuickAdd(
  { timeZone, onAdd },
  input,
) {
  const [text, setText] = useState("");
  const parsed = useParsed(text);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!text.trim()) return;
    onAdd(text.trim());
    setText("");
  }

  return (
    <form className="quick-add" onSubmit={submit} role="search" aria-label="Quick add">
      <label htmlFor="quick-add">Add a task</label>
      <div className="quick-row">
        <input
          id="quick-add"
          ref={input}
          value={text}
          maxLength={255}
          autoComplete="off"
          placeholder="Pay rent every month on the 1st at 9am #home !high"
          aria-describedby="quick-preview"
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit">Add</button>
      </div>
      <div id="quick-preview" aria-live="polite" data-testid="quick-preview">
        {parsed && text && (
          <>
            <p className="highlighted">{highlight(text, parsed.parts)}</p>
            <Fields parsed={parsed} timeZone={timeZone} />
          </>
        )}
      </div>
    </form>
  );
});

function useParsed(text: string): ParsedTask | null {
  const [parsed, setParsed] = useState<ParsedTask | null>(null);
  useEffect(() => {
    if (!text.trim()) return;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      request<ParsedTask>("POST", "/api/tasks/parse", { body: { text }, signal: abort.signal })
        .then(({ data }) => setParsed(data))
        .catch(() => undefined); // offline or mid-typing: the last preview stays
    }, PARSE_DELAY_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [text]);
  return parsed;
}

function highlight(text: string, parts: Part[]) {
  const shown = [];
  let at = 0;
  for (const part of [...parts].sort((a, b) => a.start - b.start)) {
    if (part.end > text.length || part.start < at) continue;
    shown.push(text.slice(at, part.start));
    shown.push(
      <mark key={part.start} className={`part-${part.kind}`} title={part.kind}>
        {text.slice(part.start, part.end)}
      </mark>,
    );
    at = part.end;
  }
  shown.push(text.slice(at));
  return shown;
}

function Fields({ parsed, timeZone }: { parsed: ParsedTask; timeZone: string }) {
  return (
    <dl className="parsed" data-testid="parsed">
      <dt>Title</dt>
      <dd>{parsed.title}</dd>
      {parsed.due_at && (
        <>
          <dt>Due</dt>
          <dd>{relativeDue(parsed.due_at, new Date(), timeZone)}</dd>
        </>
      )}
      {parsed.recurrence && (
        <>
          <dt>Repeats</dt>
          <dd>{parsed.recurrence.rrule}</dd>
        </>
      )}
      {parsed.priority && (
        <>
          <dt>Priority</dt>
          <dd>{parsed.priority}</dd>
        </>
      )}
      {parsed.tags.length > 0 && (
        <>
          <dt>Tags</dt>
          <dd>{parsed.tags.map((t) => `#${t}`).join(" ")}</dd>
        </>
      )}
      {parsed.reminders.length > 0 && (
        <>
          <dt>Reminders</dt>
          <dd>{parsed.reminders.map((r) => r.before ?? r.remind_at).join(", ")}</dd>
        </>
      )}
    </dl>
  );
}
