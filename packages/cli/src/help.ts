import { Help, type Interfaces } from '@oclif/core';
import { COMMAND_SHORT_FORMS, TOPIC_SHORT_FORMS } from './argv.js';

/** oclif's help, and at the root the short forms yard understands (`yard e ls`). */
export class YardHelp extends Help {
  protected override async showRootHelp(): Promise<void> {
    await super.showRootHelp();
    this.log(this.section('SHORT FORMS', shortFormsHelp(this.config.bin)));
    this.log('');
  }

  protected override async showTopicHelp(topic: Interfaces.Topic): Promise<void> {
    await super.showTopicHelp(topic);
    const short = Object.entries(TOPIC_SHORT_FORMS).find(([, long]) => long === topic.name)?.[0];
    if (short) this.log(this.section('SHORT FORM', `${this.config.bin} ${short} ... is ${this.config.bin} ${topic.name} ...; ls is list`));
  }
}

/** The short forms, as `yard help` and the README list them. */
export function shortFormsHelp(bin: string): string {
  const topics = Object.entries(TOPIC_SHORT_FORMS)
    .map(([short, long]) => `${short} ${long}`)
    .join(', ');
  const commands = Object.entries(COMMAND_SHORT_FORMS)
    .map(([short, long]) => `${short} ${long}`)
    .join(', ');
  return `Topics: ${topics}.\nCommands: ${commands} (where the topic has one).\n${bin} e ls -a is ${bin} experiment list -a; ${bin} help e ls works too.`;
}

export default YardHelp;
