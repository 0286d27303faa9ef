import Conf from 'conf';
import { configDir } from './config-dir.js';

interface SettingsShape {
  /** Per master URL: who `yard user login` made the active user. */
  masters: Record<string, { activeUser?: string }>;
}

/** Non-secret CLI state, kept by conf in the yard config dir. Tokens never go here. */
export class Settings {
  private readonly conf = new Conf<SettingsShape>({
    cwd: configDir(),
    configName: 'settings',
    defaults: { masters: {} },
  });

  activeUser(master: string): string | undefined {
    return this.conf.get('masters')[master]?.activeUser;
  }

  setActiveUser(master: string, user: string | undefined): void {
    const masters = { ...this.conf.get('masters') };
    if (user === undefined) delete masters[master];
    else masters[master] = { ...masters[master], activeUser: user };
    this.conf.set('masters', masters);
  }
}
