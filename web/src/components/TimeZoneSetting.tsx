import type { User } from "../api/types";
import { setTimeZone } from "../session";

const ZONES: string[] = Intl.supportedValuesOf?.("timeZone") ?? ["UTC"];

export function TimeZoneSetting({ user, onChange }: { user: User; onChange: (u: User) => void }) {
  const zones = ZONES.includes(user.timezone) ? ZONES : [user.timezone, ...ZONES];
  return (
    <label className="timezone">
      Time zone
      <select
        value={user.timezone}
        onChange={async (e) => onChange(await setTimeZone(e.target.value))}
      >
        {zones.map((zone) => (
          <option key={zone}>{zone}</option>
        ))}
      </select>
    </label>
  );
}
