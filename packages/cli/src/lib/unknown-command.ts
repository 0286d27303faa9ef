import type { Config } from '@oclif/core';
import { COMMAND_SHORT_FORMS, TOPIC_SHORT_FORMS } from '../argv.js';
import { suggestCommands, suggestTopics } from './suggest.js';

/** What to say about a command line that names no command (`experment list`, as typed), in yard's words. */
export function describeUnknownCommand(typed: string[], config: Pick<Config, 'bin' | 'commandIDs' | 'topics'>): { message: string; hint: string } {
  const ids = new Set(config.commandIDs);
  const topics = new Set(config.topics.map((t) => t.name));
  const spoken = typed.join(' ');
  const help = `\`${config.bin} help\` lists every command; \`${config.bin} help TOPIC\` a topic's`;
  // A real command followed by words it does not take (`yard experiment list extra`).
  for (let i = typed.length - 1; i > 0; i--) {
    const command = typed.slice(0, i).join(':');
    if (ids.has(command)) {
      return {
        message: `'${typed.slice(0, i).join(' ')}' takes no argument '${typed[i]}'`,
        hint: `\`${config.bin} ${typed.slice(0, i).join(' ')} --help\` shows what it takes`,
      };
    }
  }
  // Compared as long forms: `experment ls` is near `experiment list`.
  const long = typed.map((word, i) => (i === 0 ? TOPIC_SHORT_FORMS[word] : COMMAND_SHORT_FORMS[word]) ?? word);
  const meant = typed.length === 1 ? suggestTopics(long, topics) : [];
  const commands = meant.length > 0 ? [] : suggestCommands(long, ids);
  const suggestions = [...meant, ...commands].slice(0, 3);
  if (suggestions.length > 0) {
    // What was typed for the command's name only, not the arguments after it (`task kil 12`).
    const name = typed.slice(0, Math.max(...suggestions.map((s) => s.split(' ').length))).join(' ');
    return { message: `'${name}' is not a ${config.bin} command. Did you mean ${suggestions.map((s) => `'${s}'`).join(' or ')}?`, hint: help };
  }
  // A real topic and an unknown command in it: the topic's commands.
  const topic = typed.slice(0, -1).join(':');
  if (topics.has(topic)) {
    const inTopic = [...ids].filter((id) => id.startsWith(`${topic}:`) && !id.slice(topic.length + 1).includes(':')).map((id) => id.slice(topic.length + 1));
    return {
      message: `'${spoken}' is not a ${config.bin} command; the ${topic.replaceAll(':', ' ')} commands are: ${inTopic.sort().join(', ')}`,
      hint: `\`${config.bin} help ${topic.replaceAll(':', ' ')}\``,
    };
  }
  return { message: `'${spoken}' is not a ${config.bin} command`, hint: help };
}
