import { useAppData } from "../app-data.ts";
import { useStore } from "../store.ts";

/** Shown while realtime is getting back; rooms catch up by themselves once it is. */
export function ConnectionBanner() {
  const { reconnecting } = useStore(useAppData().connection);
  return (
    <div className="banner-slot" role="status" aria-live="polite">
      {reconnecting && (
        <div className="banner" data-testid="reconnecting-banner">
          Reconnecting… new messages will appear as soon as the connection is back.
        </div>
      )}
    </div>
  );
}
