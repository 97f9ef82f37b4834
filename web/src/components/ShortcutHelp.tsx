import { useEffect, useRef } from "react";

export const SHORTCUTS = [
  ["q", "Quick add"],
  ["/", "Search"],
  ["j", "Next task"],
  ["k", "Previous task"],
  ["x", "Complete or reopen the selected task"],
  ["e", "Edit the selected task"],
  ["?", "This list"],
] as const;

export function ShortcutHelp({ onClose }: { onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} onClose={onClose} aria-labelledby="shortcuts-title">
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <dl className="shortcuts">
        {SHORTCUTS.map(([key, what]) => (
          <div key={key}>
            <dt>
              <kbd>{key}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
      <button type="button" onClick={onClose}>
        Close
      </button>
    </dialog>
  );
}
