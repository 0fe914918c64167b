/** A modal confirmation (the native <dialog>: focus stays inside, Escape cancels). */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function Confirm({ title, children, confirmLabel, onConfirm, onCancel, danger }: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onCancel={(event) => {
      event.preventDefault();
      onCancel();
    }}>
      <h2 id="confirm-title">{title}</h2>
      {children}
      <div class="actions">
        <button type="button" class={danger ? 'danger' : undefined} onClick={onConfirm}>{confirmLabel}</button>
        <button type="button" class="quiet" onClick={onCancel} autoFocus>Cancel</button>
      </div>
    </dialog>
  );
}
